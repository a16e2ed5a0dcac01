import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * `npm run -s keys >> .env`: a fresh Ed25519 key pair for the identity the gateways forward to the
 * data products. Gateways sign with INTERNAL_SIGNING_KEY; subgraphs verify with INTERNAL_VERIFY_KEY.
 * And PSEUDONYM_KEY, the gateways' secret behind pseudonymized personal data (32 random bytes),
 * and each data product's PostgreSQL password (CUSTOMER_DB_PASSWORD, ...: its own role, README
 * "Production: first deploy, upgrade, restart"), hex so it fits in a URL as it is.
 * PEM newlines are written as \n so the values fit on one line of an env file.
 */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const oneLine = (pem: string) => pem.trim().replace(/\n/g, '\\n');
process.stdout.write(
  `INTERNAL_SIGNING_KEY="${oneLine(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())}"\n` +
    `INTERNAL_VERIFY_KEY="${oneLine(publicKey.export({ format: 'pem', type: 'spki' }).toString())}"\n` +
    `PSEUDONYM_KEY="${randomBytes(32).toString('base64')}"\n` +
    ['CUSTOMER', 'FINANCE', 'PRODUCT'].map((product) => `${product}_DB_PASSWORD="${randomBytes(24).toString('hex')}"\n`).join(''),
);
