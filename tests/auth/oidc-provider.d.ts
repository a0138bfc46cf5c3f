// oidc-provider ships no types; the tests use it through tests/helpers/oidc.ts only.
declare module "oidc-provider";
