import type { AuditSql } from './sql.js';

/** The audit trail's PostgreSQL schema by default (AUDIT_SCHEMA changes it, for tests chiefly). */
export const DEFAULT_AUDIT_SCHEMA = 'dpg_audit';
/** A schema name that is safe to splice into DDL unquoted (roles are named after it). */
export const AUDIT_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,40}$/;

/** The NOLOGIN roles of a schema: inserts run as the writer, reads as the reader. */
export function auditRoles(schema: string): { writer: string; reader: string } {
  return { writer: `${schema}_writer`, reader: `${schema}_reader` };
}

function ddl(schema: string): string {
  const s = schema;
  const { writer, reader } = auditRoles(schema);
  return /* SQL */ `
create schema if not exists ${s};
create table if not exists ${s}.records (
  writer_id text not null,
  seq bigint not null check (seq > 0),
  kind text not null check (kind in ('access', 'gap')),
  at timestamptz not null,
  issuer text,
  subject text,
  client_name text,
  client_version text,
  roles jsonb not null default '[]',
  operation_name text,
  document_hash text,
  accesses jsonb not null default '[]',
  request_id text,
  trace_id text,
  outcome text,
  gap jsonb,
  prev_hash text not null,
  hash text not null,
  primary key (writer_id, seq)
);
create index if not exists records_subject_at on ${s}.records (subject, at);
create index if not exists records_at on ${s}.records (at);
-- Where a purged prefix of a chain ended: verification starts from here.
create table if not exists ${s}.anchors (
  writer_id text primary key,
  seq bigint not null,
  hash text not null,
  purged_at timestamptz not null
);

-- Append-only, whoever asks: only the purge function below may delete, and nothing may update.
create or replace function ${s}.refuse_change() returns trigger language plpgsql as $fn$
begin
  if tg_op = 'DELETE' and current_setting('dpg_audit.purging', true) = 'on' then
    return old;
  end if;
  raise exception 'audit records are append-only (%)', tg_op using errcode = '42501';
end
$fn$;
drop trigger if exists records_append_only on ${s}.records;
create trigger records_append_only before update or delete on ${s}.records
  for each row execute function ${s}.refuse_change();
drop trigger if exists records_no_truncate on ${s}.records;
create trigger records_no_truncate before truncate on ${s}.records
  for each statement execute function ${s}.refuse_change();

-- Deletes whole prefixes of chains (records before \`before\`, up to the first later one of their
-- writer) and anchors each writer's chain at the last deleted record. Runs as its owner; nobody
-- else may execute it.
create or replace function ${s}.purge(before timestamptz)
  returns table (purged_writer text, purged_through bigint, purged_rows bigint)
  language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
declare
  w text;
  first_kept bigint;
  cut bigint;
  cut_hash text;
  deleted bigint;
begin
  perform set_config('dpg_audit.purging', 'on', true);
  for w in select distinct r.writer_id from ${s}.records r where r.at < before loop
    select min(r.seq) into first_kept from ${s}.records r where r.writer_id = w and r.at >= before;
    if first_kept is null then
      select max(r.seq) into cut from ${s}.records r where r.writer_id = w;
    else
      cut := first_kept - 1;
    end if;
    select r.hash into cut_hash from ${s}.records r where r.writer_id = w and r.seq = cut;
    continue when cut_hash is null;
    insert into ${s}.anchors as a (writer_id, seq, hash, purged_at) values (w, cut, cut_hash, now())
      on conflict (writer_id) do update set seq = excluded.seq, hash = excluded.hash, purged_at = excluded.purged_at;
    delete from ${s}.records r where r.writer_id = w and r.seq <= cut;
    get diagnostics deleted = row_count;
    purged_writer := w;
    purged_through := cut;
    purged_rows := deleted;
    return next;
  end loop;
  perform set_config('dpg_audit.purging', 'off', true);
end
$fn$;
revoke all on function ${s}.purge(timestamptz) from public;

do $do$
begin
  -- Roles belong to the server, not the database (whose advisory lock does not cover them): a
  -- gateway of another database may be creating the same one right now.
  begin
    create role ${writer} nologin;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    create role ${reader} nologin;
  exception when duplicate_object or unique_violation then null;
  end;
  execute format('grant ${writer}, ${reader} to %I', current_user);
end
$do$;
revoke all on ${s}.records, ${s}.anchors from ${writer}, ${reader};
grant usage on schema ${s} to ${writer}, ${reader};
grant insert on ${s}.records to ${writer};
grant select on ${s}.records, ${s}.anchors to ${reader};
revoke all on function ${s}.purge(timestamptz) from ${writer}, ${reader};
`;
}

/**
 * Creates the schema, tables, trigger, purge function and roles, idempotently. Two gateways
 * starting together serialize on an advisory lock (DDL races otherwise fail on catalog rows).
 */
export async function ensureAuditSchema(sql: AuditSql, schema: string): Promise<void> {
  if (!AUDIT_SCHEMA_PATTERN.test(schema)) throw new Error(`invalid audit schema name "${schema}"`);
  await sql.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(hashtext($1))', [`dpg-audit-schema:${schema}`]);
    for (const statement of splitStatements(ddl(schema))) await tx.query(statement);
  });
}

/**
 * The DDL as single statements (extended-protocol queries take one each), split on semicolons at
 * the ends of lines outside dollar-quoted bodies.
 */
function splitStatements(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('--') && !quoted) continue;
    current += `${line}\n`;
    quoted = ((line.match(/\$(fn|do)\$/g)?.length ?? 0) % 2 === 1) !== quoted;
    if (!quoted && line.trimEnd().endsWith(';')) {
      out.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}
