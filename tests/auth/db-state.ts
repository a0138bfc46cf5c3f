/**
 * What a refused sign-in must leave untouched: every row of users,
 * user_identities and sessions, compared as a whole before and after.
 */
import type pg from "pg";

export async function authTables(admin: pg.Pool): Promise<string> {
  const { rows } = await admin.query(`
    select json_build_object(
      'users', (select coalesce(json_agg(u order by u.id), '[]') from public.users u),
      'identities', (select coalesce(json_agg(i order by i.provider, i.subject), '[]') from public.user_identities i),
      'sessions', (select coalesce(json_agg(s order by s.id), '[]') from public.sessions s)
    ) as state`);
  return JSON.stringify(rows[0].state);
}
