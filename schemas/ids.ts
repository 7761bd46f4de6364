// Identifier rules shared by every entry point (producer SDK, collector, sink, configuration). Shop
// and user ids are joined into subjects, KV keys and workflow ids with '/' and ':', so they may not
// contain those (or spaces): an id of one user can never read as the id of another
// ('shop/a' + 'b/c' against 'shop/a/b' + 'c').

/** 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit. */
export const SHOP_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** user_id and anonymous_id: 1 to 128 of A-Z a-z 0-9 . _ @ + = | - */
export const USER_ID_RE = /^[A-Za-z0-9._@+=|-]{1,128}$/;

export const SHOP_ID_RULE =
  "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";
export const USER_ID_RULE = "must be 1 to 128 of A-Z a-z 0-9 . _ @ + = | - (no '/', ':' or spaces)";
