/** The fixed lists the generator draws from. Changing any of them changes every seeded dataset. */

export interface Country {
  code: string;
  callingCode: string;
  currency: string;
  /** Relative share of customers. */
  weight: number;
}

export const COUNTRIES: readonly Country[] = [
  { code: 'US', callingCode: '1', currency: 'USD', weight: 30 },
  { code: 'GB', callingCode: '44', currency: 'GBP', weight: 12 },
  { code: 'DE', callingCode: '49', currency: 'EUR', weight: 12 },
  { code: 'FR', callingCode: '33', currency: 'EUR', weight: 8 },
  { code: 'JP', callingCode: '81', currency: 'JPY', weight: 6 },
  { code: 'NL', callingCode: '31', currency: 'EUR', weight: 5 },
  { code: 'ES', callingCode: '34', currency: 'EUR', weight: 5 },
  { code: 'IT', callingCode: '39', currency: 'EUR', weight: 5 },
  { code: 'CA', callingCode: '1', currency: 'CAD', weight: 5 },
  { code: 'SE', callingCode: '46', currency: 'SEK', weight: 4 },
  { code: 'CH', callingCode: '41', currency: 'CHF', weight: 4 },
  { code: 'AU', callingCode: '61', currency: 'AUD', weight: 4 },
];

export interface Currency {
  code: string;
  /** Reference rate: US dollars for one unit of this currency. */
  usdPerUnit: number;
  /** Digits after the decimal point of the minor unit (ISO 4217). */
  minorDigits: number;
}

export const CURRENCIES: readonly Currency[] = [
  { code: 'USD', usdPerUnit: 1, minorDigits: 2 },
  { code: 'EUR', usdPerUnit: 1.08, minorDigits: 2 },
  { code: 'GBP', usdPerUnit: 1.27, minorDigits: 2 },
  { code: 'JPY', usdPerUnit: 0.0064, minorDigits: 0 },
  { code: 'CAD', usdPerUnit: 0.73, minorDigits: 2 },
  { code: 'SEK', usdPerUnit: 0.095, minorDigits: 2 },
  { code: 'CHF', usdPerUnit: 1.12, minorDigits: 2 },
  { code: 'AUD', usdPerUnit: 0.66, minorDigits: 2 },
];

export const FIRST_NAMES = [
  'Ada', 'Amara', 'Ananya', 'Aoife', 'Ben', 'Carlos', 'Chloé', 'Daniel', 'Elena', 'Emma', 'Fatima', 'Felix',
  'Grace', 'Hannah', 'Hiroshi', 'Ingrid', 'Isabel', 'Jakob', 'James', 'José', 'Julia', 'Kenji', 'Lars',
  'Leila', 'Liam', 'Lucía', 'Maria', 'Mateo', 'Mei', 'Noah', 'Olivia', 'Omar', 'Priya', 'Rafael', 'Sofia',
  'Søren', 'Thomas', 'Yuki', 'Zoë', 'Zainab',
] as const;

export const LAST_NAMES = [
  'Andersson', 'Bauer', 'Brown', 'Chen', 'Costa', 'Dubois', 'Fernández', 'Fischer', 'García', 'Hansen',
  'Ito', 'Jansen', 'Johnson', 'Kaur', 'Kim', 'Kowalski', 'Lambert', 'Larsen', 'Martin', 'Müller',
  'Nakamura', "O'Brien", 'Okafor', 'Patel', 'Rossi', 'Santos', 'Schmidt', 'Silva', 'Smith', 'Tanaka',
  'Taylor', 'Van Dijk', 'Wagner', 'Walker', 'Weber', 'Williams', 'Wilson', 'Yamamoto', 'Zhang', 'Ziegler',
] as const;

/** Reserved for documentation (RFC 2606): no seeded address can reach a real person. */
export const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org'] as const;

export const SEGMENTS = [
  'high-value', 'frequent-buyer', 'bargain-hunter', 'new-customer', 'dormant', 'digital-first',
  'family', 'premium-brand',
] as const;

export interface Category {
  name: string;
  nouns: readonly string[];
  /** List price range in USD. */
  minPrice: number;
  maxPrice: number;
}

export const CATEGORIES: readonly Category[] = [
  { name: 'Electronics', nouns: ['Headphones', 'Speaker', 'Charger', 'Monitor', 'Keyboard', 'Webcam'], minPrice: 15, maxPrice: 1500 },
  { name: 'Home', nouns: ['Blender', 'Kettle', 'Lamp', 'Toaster', 'Vacuum', 'Rug'], minPrice: 10, maxPrice: 600 },
  { name: 'Garden', nouns: ['Hose', 'Planter', 'Shears', 'Grill', 'Lantern'], minPrice: 5, maxPrice: 800 },
  { name: 'Sports', nouns: ['Yoga Mat', 'Dumbbell Set', 'Tennis Racket', 'Bike Helmet', 'Running Shoes'], minPrice: 10, maxPrice: 400 },
  { name: 'Books', nouns: ['Cookbook', 'Novel', 'Atlas', 'Field Guide'], minPrice: 5, maxPrice: 60 },
  { name: 'Toys', nouns: ['Puzzle', 'Building Set', 'Plush Bear', 'Board Game', 'Kite'], minPrice: 5, maxPrice: 120 },
  { name: 'Beauty', nouns: ['Face Cream', 'Shampoo', 'Perfume', 'Hair Dryer'], minPrice: 5, maxPrice: 200 },
  { name: 'Grocery', nouns: ['Coffee Beans', 'Olive Oil', 'Green Tea', 'Dark Chocolate', 'Honey'], minPrice: 2, maxPrice: 40 },
];

export const PRODUCT_ADJECTIVES = [
  'Classic', 'Compact', 'Deluxe', 'Eco', 'Essential', 'Everyday', 'Premium', 'Pro', 'Smart', 'Ultra',
] as const;

export const RISK_FACTORS = [
  'debt_to_income', 'credit_history_length', 'payment_history', 'income_stability', 'existing_loans',
  'employment_status', 'transaction_volume', 'account_age',
] as const;

export const LOAN_TERMS_MONTHS = [12, 24, 36, 48, 60, 72] as const;

/** Model releases in order: each assessed every application from its release until the next one. */
export const LOAN_RISK_MODELS = [
  { version: 'loan-risk-2.2.0', releasedAt: '2000-01-01T00:00:00.000Z' },
  { version: 'loan-risk-2.3.1', releasedAt: '2024-09-01T00:00:00.000Z' },
] as const;
