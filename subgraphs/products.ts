import type { DataProduct } from './kit/data-product.js';
import { customerProduct } from './customer/index.js';
import { financeProduct } from './finance/index.js';
import { productProduct } from './product/index.js';

export { customerProduct, financeProduct, productProduct };

/**
 * Every data product, in PRODUCT_NAMES order. `any` stands for "each its own loaders": every
 * element pairs its resolvers with its own createLoaders, which a union type cannot express.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const dataProducts: readonly DataProduct<any>[] = [customerProduct, financeProduct, productProduct];
