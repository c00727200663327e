// The one money format, shared with the browser pages (which are compiled on their own).
export { formatMoney } from '../client/money';
