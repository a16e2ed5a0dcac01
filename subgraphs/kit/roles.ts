import type { ProductName } from './data-product.js';
import { quoteIdent, type MigratedProduct, type SqlSession } from './migrations.js';

/**
 * Each data product owns its store: one PostgreSQL login role per product, owner of the product's
 * schema and everything in it, with no right on any other product's schema (nothing there is
 * granted to PUBLIC). Made once per database by `npm run migrate -- --init-roles`, as a superuser.
 */

/** The role a product connects as when its URL names none: dpg_customer, dpg_finance, dpg_product. */
export function defaultProductRole(product: ProductName): string {
  return `dpg_${product}`;
}

/** Role names we create: unquoted-safe, so logs and errors show them as written. */
export const ROLE_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ProductRole {
  readonly product: MigratedProduct;
  /** The login role, e.g. dpg_customer. */
  readonly role: string;
  /** Its password; undefined leaves an existing role's password as it is (and a new one without). */
  readonly password?: string | undefined;
}

export class RoleNameError extends Error {
  override readonly name = 'RoleNameError';
}

/**
 * Creates (or updates) each product's login role and hands it its schema: created when missing,
 * otherwise (a database of the old shared-superuser layout) the schema and every table, view and
 * free-standing sequence in it change owner (the products keep no functions or types of their own
 * there; a migration adding one runs as the role, which then owns it). One transaction; role DDL is serialized cluster-wide
 * by a lock on the shared role catalogue (roles belong to the server, and an advisory lock only to
 * one database: two databases' init steps, or the audit trail's, may create roles at the same time).
 */
export async function initProductRoles(session: SqlSession, roles: readonly ProductRole[]): Promise<void> {
  for (const { role } of roles) if (!ROLE_NAME_PATTERN.test(role)) throw new RoleNameError(`invalid role name "${role}" (lower-case letters, digits, _)`);
  await session.query('BEGIN');
  try {
    await session.query('LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE');
    for (const { product, role, password } of roles) {
      const r = quoteIdent(role);
      const s = quoteIdent(product.schemaName);
      const [found] = (await session.query('SELECT 1 AS found FROM pg_roles WHERE rolname = $1', [role])).rows;
      // NOSUPERUSER NOCREATEDB NOCREATEROLE: the defaults, said out loud for the reader of the catalogue.
      const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT${password === undefined ? '' : ` PASSWORD ${quoteLiteral(password)}`}`;
      await session.query(found ? `ALTER ROLE ${r} ${attributes}` : `CREATE ROLE ${r} ${attributes}`);
      await session.query(`CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${r}`);
      await session.query(`ALTER SCHEMA ${s} OWNER TO ${r}`);
      await session.query(`REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`);
      // Sequences owned by a column follow their table; changing them alone is refused.
      const { rows } = await session.query(
        `SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, $2::text) AS statement
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))`,
        [product.schemaName, role],
      );
      for (const row of rows) await session.query(String(row['statement']));
    }
    await session.query('COMMIT');
  } catch (error) {
    await session.query('ROLLBACK');
    throw error;
  }
}

/**
 * The role migrations should run as on this session: `role` when this database's product schema
 * belongs to it (init-roles ran here), the session's user is someone else and may become it (a
 * superuser may); otherwise undefined (as the session's own user). So the superuser migrating a
 * product creates objects its role owns, and a database without roles is migrated as before.
 */
export async function migrationRole(session: SqlSession, role: string, schema: string): Promise<string | undefined> {
  const [row] = (
    await session.query(
      `SELECT r.rolname <> current_user AND pg_has_role(current_user, r.oid, 'MEMBER') AS become
         FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
        WHERE n.nspname = $2 AND r.rolname = $1`,
      [role, schema],
    )
  ).rows;
  return row?.['become'] === true ? role : undefined;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
