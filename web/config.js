// @ts-check
/**
 * Where the dashboard finds Keygate's functions: the only file a deployer
 * edits. Empty means this page's own origin (`/functions/v1`), as `npm start`
 * and a custom domain serve it. For a dashboard on its own site, set the
 * project's functions URL, e.g. "https://<project-ref>.supabase.co/functions/v1",
 * and add this dashboard's origin to ALLOWED_REDIRECT_ORIGINS.
 */
export const FUNCTIONS_URL = "";
