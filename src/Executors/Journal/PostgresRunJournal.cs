using System.Text.RegularExpressions;
using Npgsql;

namespace Taquin.Executors.Journal;

/// <summary>
/// The shared journal for workers on several machines: tables in one PostgreSQL schema (default <c>taquin</c>).
/// Every state change is a single conditional statement (row lock + re-check of the condition under READ
/// COMMITTED), so concurrent workers cannot both win a compare-and-set, a lease or a slot.
/// </summary>
public sealed partial class PostgresRunJournal : IRunJournal, IAsyncDisposable, IDisposable
{
    private const string StepColumns = """
        step_id, run_id, wave, subject, step_type, sequence, input_json, state, attempts, checkpoint::text,
        log_tail, last_reason, created_at, started_at, finished_at, updated_at, version
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly TimeProvider _clock;
    private readonly string _schema;

    /// <summary>Uses (and owns) a data source built from an Npgsql connection string.</summary>
    public PostgresRunJournal(string connectionString, TimeProvider clock, string schema = DefaultSchema)
        : this(NpgsqlDataSource.Create(connectionString), clock, schema, ownsDataSource: true)
    {
    }

    /// <summary>Uses a data source the caller owns and disposes.</summary>
    public PostgresRunJournal(NpgsqlDataSource dataSource, TimeProvider clock, string schema = DefaultSchema)
        : this(dataSource, clock, schema, ownsDataSource: false)
    {
    }

    private PostgresRunJournal(NpgsqlDataSource dataSource, TimeProvider clock, string schema, bool ownsDataSource)
    {
        if (!SchemaName().IsMatch(schema))
        {
            throw new ArgumentException(
                $"Schema name '{schema}' is not a plain lower-case PostgreSQL identifier (letters, digits, underscore).",
                nameof(schema));
        }

        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _clock = clock;
        _schema = schema;
    }

    public const string DefaultSchema = "taquin";

    public string Schema => _schema;

    public async Task InitializeAsync(CancellationToken ct = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // CREATE ... IF NOT EXISTS still races between sessions (duplicate catalog rows): serialise the workers.
        await using (var command = Command(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext(@lock))"))
        {
            command.Parameters.AddWithValue("lock", "taquin-journal-schema:" + _schema);
            await command.ExecuteNonQueryAsync(ct);
        }

        await using (var command = Command(connection, transaction, """
            CREATE SCHEMA IF NOT EXISTS {s};
            CREATE TABLE IF NOT EXISTS {s}.runs (
                run_id text PRIMARY KEY,
                plan_digest text NOT NULL,
                inventory_digest text NOT NULL,
                plan_path text,
                created_at timestamptz NOT NULL,
                created_by text,
                mode text NOT NULL);
            CREATE TABLE IF NOT EXISTS {s}.steps (
                step_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                run_id text NOT NULL REFERENCES {s}.runs (run_id),
                wave integer NOT NULL,
                subject text NOT NULL,
                step_type text NOT NULL,
                sequence integer NOT NULL,
                input_json text,
                state text NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                checkpoint jsonb NOT NULL DEFAULT '{}',
                log_tail text[] NOT NULL DEFAULT '{}',
                last_reason text,
                created_at timestamptz NOT NULL,
                started_at timestamptz,
                finished_at timestamptz,
                updated_at timestamptz NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                UNIQUE (run_id, subject, step_type, wave));
            CREATE INDEX IF NOT EXISTS steps_by_run ON {s}.steps (run_id, wave, subject, sequence);
            CREATE TABLE IF NOT EXISTS {s}.step_transitions (
                transition_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                step_id bigint NOT NULL REFERENCES {s}.steps (step_id),
                from_state text NOT NULL,
                to_state text NOT NULL,
                reason text NOT NULL,
                actor text NOT NULL,
                at timestamptz NOT NULL);
            CREATE INDEX IF NOT EXISTS step_transitions_by_step ON {s}.step_transitions (step_id, transition_id);
            CREATE TABLE IF NOT EXISTS {s}.audit_events (
                event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                run_id text NOT NULL,
                at timestamptz NOT NULL,
                actor text NOT NULL,
                kind text NOT NULL,
                subject text,
                details text);
            CREATE INDEX IF NOT EXISTS audit_events_by_run ON {s}.audit_events (run_id, event_id);
            CREATE OR REPLACE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
            CREATE OR REPLACE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON {s}.audit_events
                FOR EACH ROW EXECUTE FUNCTION {s}.refuse_change();
            CREATE OR REPLACE TRIGGER step_transitions_append_only BEFORE UPDATE OR DELETE ON {s}.step_transitions
                FOR EACH ROW EXECUTE FUNCTION {s}.refuse_change();
            CREATE TABLE IF NOT EXISTS {s}.leases (
                resource text PRIMARY KEY,
                holder text NOT NULL,
                expires_at timestamptz NOT NULL);
            CREATE TABLE IF NOT EXISTS {s}.slot_pools (pool text PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS {s}.slots (
                pool text NOT NULL REFERENCES {s}.slot_pools (pool),
                holder text NOT NULL,
                expires_at timestamptz NOT NULL,
                PRIMARY KEY (pool, holder));
            CREATE TABLE IF NOT EXISTS {s}.vlan_allocations (
                vlan integer PRIMARY KEY CHECK (vlan BETWEEN 1 AND 4094),
                vm text NOT NULL UNIQUE,
                allocated_at timestamptz NOT NULL,
                allocated_by text NOT NULL);
            """))
        {
            await command.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }

    public async Task CreateRunAsync(RunRecord run, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(run.RunId);
        await using var command = Command("""
            INSERT INTO {s}.runs (run_id, plan_digest, inventory_digest, plan_path, created_at, created_by, mode)
            VALUES (@run_id, @plan_digest, @inventory_digest, @plan_path, @created_at, @created_by, @mode)
            ON CONFLICT (run_id) DO NOTHING
            """,
            ("run_id", run.RunId), ("plan_digest", run.PlanDigest), ("inventory_digest", run.InventoryDigest),
            ("plan_path", run.PlanPath), ("created_at", JournalValues.Normalize(run.CreatedAt)),
            ("created_by", run.CreatedBy), ("mode", run.Mode));
        if (await command.ExecuteNonQueryAsync(ct) == 0)
        {
            // Re-creating the same run (a resumed CLI call) is harmless; reusing its id for another plan is not.
            var existing = await GetRunAsync(run.RunId, ct);
            if (existing is null || existing.PlanDigest != run.PlanDigest || existing.InventoryDigest != run.InventoryDigest)
            {
                throw JournalValues.RunIdTaken(run.RunId);
            }
        }
    }

    public async Task<RunRecord?> GetRunAsync(string runId, CancellationToken ct = default) =>
        (await ReadRunsAsync("WHERE run_id = @run_id", ct, ("run_id", runId))).SingleOrDefault();

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(CancellationToken ct = default) => ReadRunsAsync("", ct);

    public async Task AddStepsAsync(string runId, IReadOnlyList<NewStep> steps, CancellationToken ct = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var exists = Command(connection, transaction, "SELECT 1 FROM {s}.runs WHERE run_id = @run_id FOR SHARE", ("run_id", runId)))
        {
            if (await exists.ExecuteScalarAsync(ct) is null)
            {
                throw JournalValues.UnknownRun(runId);
            }
        }

        // One statement for the whole plan: arrays unnest into rows, existing steps are left untouched.
        await using (var insert = Command(connection, transaction, """
            INSERT INTO {s}.steps (run_id, wave, subject, step_type, sequence, input_json, state, created_at, updated_at)
            SELECT @run_id, wave, subject, step_type, sequence, input_json, @state, @now, @now
            FROM unnest(@waves, @subjects, @step_types, @sequences, @input_jsons)
                AS step (wave, subject, step_type, sequence, input_json)
            ON CONFLICT (run_id, subject, step_type, wave) DO NOTHING
            """,
            ("run_id", runId), ("state", nameof(StepState.Pending)), ("now", Now()),
            ("waves", steps.Select(s => s.Wave).ToArray()),
            ("subjects", steps.Select(s => s.Subject).ToArray()),
            ("step_types", steps.Select(s => s.StepType).ToArray()),
            ("sequences", steps.Select(s => s.Sequence).ToArray()),
            ("input_jsons", steps.Select(s => s.InputJson).ToArray())))
        {
            await insert.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }

    public async Task<StepRecord?> GetStepAsync(long stepId, CancellationToken ct = default) =>
        (await ReadStepsAsync("WHERE step_id = @step_id", ct, ("step_id", stepId))).SingleOrDefault();

    public Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, int? wave = null, CancellationToken ct = default) =>
        wave is { } w
            ? ReadStepsAsync("WHERE run_id = @run_id AND wave = @wave ORDER BY wave, subject COLLATE \"C\", sequence, step_id",
                ct, ("run_id", runId), ("wave", w))
            : ReadStepsAsync("WHERE run_id = @run_id ORDER BY wave, subject COLLATE \"C\", sequence, step_id",
                ct, ("run_id", runId));

    public async Task<bool> TryTransitionAsync(long stepId, StepState expected, StepState next, string reason, string actor, CancellationToken ct = default)
    {
        // The UPDATE locks the row and re-checks "state = @expected" after any concurrent writer commits, so
        // exactly one of several racing workers moves the step; the transition row is written only for it.
        await using var command = Command("""
            WITH moved AS (
                UPDATE {s}.steps SET
                    state = @next,
                    attempts = attempts + @attempt,
                    started_at = CASE WHEN @entering_running THEN @now ELSE started_at END,
                    finished_at = CASE WHEN @entering_running THEN NULL WHEN @finishing THEN @now ELSE finished_at END,
                    last_reason = @reason,
                    updated_at = @now,
                    version = version + 1
                WHERE step_id = @step_id AND state = @expected
                RETURNING step_id)
            INSERT INTO {s}.step_transitions (step_id, from_state, to_state, reason, actor, at)
            SELECT step_id, @expected, @next, @reason, @actor, @now FROM moved
            """,
            ("next", next.ToString()), ("expected", expected.ToString()), ("step_id", stepId),
            ("attempt", JournalValues.EntersRunning(next) ? 1 : 0),
            ("entering_running", JournalValues.EntersRunning(next)), ("finishing", JournalValues.Finishes(next)),
            ("reason", reason), ("actor", actor), ("now", Now()));
        if (await command.ExecuteNonQueryAsync(ct) == 1)
        {
            return true;
        }

        await EnsureStepExistsAsync(stepId, ct);
        return false;
    }

    public async Task SaveCheckpointAsync(long stepId, IReadOnlyDictionary<string, string?> values, CancellationToken ct = default)
    {
        var set = values.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
        var remove = values.Where(kv => kv.Value is null).Select(kv => kv.Key).ToArray();
        await using var command = Command("""
            UPDATE {s}.steps SET checkpoint = (checkpoint || @set::jsonb) - @remove::text[], updated_at = @now, version = version + 1
            WHERE step_id = @step_id
            """,
            ("set", JournalValues.CheckpointPatch(set)), ("remove", remove), ("now", Now()), ("step_id", stepId));
        if (await command.ExecuteNonQueryAsync(ct) == 0)
        {
            throw JournalValues.UnknownStep(stepId);
        }
    }

    public async Task AppendLogAsync(long stepId, string line, CancellationToken ct = default)
    {
        // Append and keep the last @max elements in one statement (the row lock orders concurrent appends).
        await using var command = Command("""
            UPDATE {s}.steps SET
                log_tail = (array_append(log_tail, @line))[greatest(cardinality(log_tail) + 2 - @max, 1):],
                updated_at = @now,
                version = version + 1
            WHERE step_id = @step_id
            """,
            ("line", line), ("max", IRunJournal.LogTailLines), ("now", Now()), ("step_id", stepId));
        if (await command.ExecuteNonQueryAsync(ct) == 0)
        {
            throw JournalValues.UnknownStep(stepId);
        }
    }

    public async Task<IReadOnlyList<StepTransition>> GetTransitionsAsync(long stepId, CancellationToken ct = default)
    {
        await using var command = Command("""
            SELECT step_id, from_state, to_state, reason, actor, at FROM {s}.step_transitions
            WHERE step_id = @step_id ORDER BY transition_id
            """, ("step_id", stepId));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var transitions = new List<StepTransition>();
        while (await reader.ReadAsync(ct))
        {
            transitions.Add(new StepTransition(
                reader.GetInt64(0), JournalValues.ParseState(reader.GetString(1)), JournalValues.ParseState(reader.GetString(2)),
                reader.GetString(3), reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return transitions;
    }

    public async Task AppendEventAsync(AuditEvent auditEvent, CancellationToken ct = default)
    {
        await using var command = Command("""
            INSERT INTO {s}.audit_events (run_id, at, actor, kind, subject, details)
            VALUES (@run_id, @at, @actor, @kind, @subject, @details)
            """,
            ("run_id", auditEvent.RunId), ("at", JournalValues.Normalize(auditEvent.At)), ("actor", auditEvent.Actor),
            ("kind", auditEvent.Kind), ("subject", auditEvent.Subject), ("details", auditEvent.Details));
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<AuditEvent>> GetEventsAsync(string runId, CancellationToken ct = default)
    {
        await using var command = Command("""
            SELECT event_id, run_id, at, actor, kind, subject, details FROM {s}.audit_events
            WHERE run_id = @run_id ORDER BY event_id
            """, ("run_id", runId));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var events = new List<AuditEvent>();
        while (await reader.ReadAsync(ct))
        {
            events.Add(new AuditEvent
            {
                EventId = reader.GetInt64(0),
                RunId = reader.GetString(1),
                At = reader.GetFieldValue<DateTimeOffset>(2),
                Actor = reader.GetString(3),
                Kind = reader.GetString(4),
                Subject = reader.IsDBNull(5) ? null : reader.GetString(5),
                Details = reader.IsDBNull(6) ? null : reader.GetString(6),
            });
        }

        return events;
    }

    public async Task<bool> TryAcquireLeaseAsync(string resource, string holder, TimeSpan ttl, CancellationToken ct = default)
    {
        JournalValues.ValidateLease(resource, holder, ttl);
        var now = Now();
        // Take a free or expired lease, or extend one's own; ON CONFLICT locks the row, so racing holders serialise.
        await using var command = Command("""
            INSERT INTO {s}.leases AS lease (resource, holder, expires_at) VALUES (@resource, @holder, @expires_at)
            ON CONFLICT (resource) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE lease.holder = excluded.holder OR lease.expires_at <= @now
            """,
            ("resource", resource), ("holder", holder), ("expires_at", now + ttl), ("now", now));
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task ReleaseLeaseAsync(string resource, string holder, CancellationToken ct = default)
    {
        await using var command = Command("DELETE FROM {s}.leases WHERE resource = @resource AND holder = @holder",
            ("resource", resource), ("holder", holder));
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<bool> TryAcquireSlotAsync(string pool, int capacity, string holder, TimeSpan ttl, CancellationToken ct = default)
    {
        JournalValues.ValidateLease(pool, holder, ttl);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var now = Now();
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // The pool row is the mutex: holding it FOR UPDATE, count-then-insert cannot overshoot the capacity.
        await using (var lockPool = Command(connection, transaction, """
            INSERT INTO {s}.slot_pools (pool) VALUES (@pool) ON CONFLICT (pool) DO NOTHING;
            SELECT pool FROM {s}.slot_pools WHERE pool = @pool FOR UPDATE;
            DELETE FROM {s}.slots WHERE pool = @pool AND expires_at <= @now;
            """, ("pool", pool), ("now", now)))
        {
            await lockPool.ExecuteNonQueryAsync(ct);
        }

        bool granted;
        await using (var take = Command(connection, transaction, """
            INSERT INTO {s}.slots (pool, holder, expires_at)
            SELECT @pool, @holder, @expires_at
            WHERE EXISTS (SELECT 1 FROM {s}.slots WHERE pool = @pool AND holder = @holder)
               OR (SELECT count(*) FROM {s}.slots WHERE pool = @pool) < @capacity
            ON CONFLICT (pool, holder) DO UPDATE SET expires_at = excluded.expires_at
            """, ("pool", pool), ("holder", holder), ("expires_at", now + ttl), ("capacity", capacity)))
        {
            granted = await take.ExecuteNonQueryAsync(ct) == 1;
        }

        await transaction.CommitAsync(ct);
        return granted;
    }

    public async Task ReleaseSlotAsync(string pool, string holder, CancellationToken ct = default)
    {
        await using var command = Command("DELETE FROM {s}.slots WHERE pool = @pool AND holder = @holder",
            ("pool", pool), ("holder", holder));
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<int> AllocateVlanAsync(string vm, int from, int to, string actor, CancellationToken ct = default)
    {
        JournalValues.ValidateVlanRequest(vm, from, to);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // One allocator at a time (readers are not blocked), so find-the-gap-then-insert cannot hand one VLAN to two
        // VMs; the unique constraints would reject that anyway, the lock makes the second allocator wait, not fail.
        await using (var lockTable = Command(connection, transaction, "LOCK TABLE {s}.vlan_allocations IN SHARE ROW EXCLUSIVE MODE"))
        {
            await lockTable.ExecuteNonQueryAsync(ct);
        }

        await using (var existing = Command(connection, transaction, "SELECT vlan FROM {s}.vlan_allocations WHERE vm = @vm", ("vm", vm)))
        {
            if (await existing.ExecuteScalarAsync(ct) is int held)
            {
                await transaction.CommitAsync(ct);
                return held;
            }
        }

        int vlan;
        await using (var gap = Command(connection, transaction, """
            SELECT min(g) FROM generate_series(@from, @to) AS g
            WHERE NOT EXISTS (SELECT 1 FROM {s}.vlan_allocations a WHERE a.vlan = g)
            """, ("from", from), ("to", to)))
        {
            vlan = await gap.ExecuteScalarAsync(ct) is int free ? free : throw new VlanRangeExhaustedException(vm, from, to);
        }

        await using (var insert = Command(connection, transaction,
            "INSERT INTO {s}.vlan_allocations (vlan, vm, allocated_at, allocated_by) VALUES (@vlan, @vm, @at, @by)",
            ("vlan", vlan), ("vm", vm), ("at", Now()), ("by", actor)))
        {
            await insert.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        return vlan;
    }

    public async Task<IReadOnlyList<VlanAllocation>> GetVlanAllocationsAsync(CancellationToken ct = default)
    {
        await using var command = Command("SELECT vlan, vm, allocated_at, allocated_by FROM {s}.vlan_allocations ORDER BY vlan");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var allocations = new List<VlanAllocation>();
        while (await reader.ReadAsync(ct))
        {
            allocations.Add(new VlanAllocation(reader.GetInt32(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3)));
        }

        return allocations;
    }

    public async Task<bool> ReleaseVlanAsync(string vm, CancellationToken ct = default)
    {
        await using var command = Command("DELETE FROM {s}.vlan_allocations WHERE vm = @vm", ("vm", vm));
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    public void Dispose()
    {
        if (_ownsDataSource)
        {
            _dataSource.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync();
        }
    }

    private DateTimeOffset Now() => JournalValues.Normalize(_clock.GetUtcNow());

    private async Task EnsureStepExistsAsync(long stepId, CancellationToken ct)
    {
        await using var command = Command("SELECT 1 FROM {s}.steps WHERE step_id = @step_id", ("step_id", stepId));
        if (await command.ExecuteScalarAsync(ct) is null)
        {
            throw JournalValues.UnknownStep(stepId);
        }
    }

    private async Task<IReadOnlyList<RunRecord>> ReadRunsAsync(string where, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command($$"""
            SELECT run_id, plan_digest, inventory_digest, plan_path, created_at, created_by, mode FROM {s}.runs {{where}}
            ORDER BY created_at, run_id COLLATE "C"
            """, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var runs = new List<RunRecord>();
        while (await reader.ReadAsync(ct))
        {
            runs.Add(new RunRecord
            {
                RunId = reader.GetString(0),
                PlanDigest = reader.GetString(1),
                InventoryDigest = reader.GetString(2),
                PlanPath = reader.IsDBNull(3) ? null : reader.GetString(3),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(4),
                CreatedBy = reader.IsDBNull(5) ? null : reader.GetString(5),
                Mode = reader.GetString(6),
            });
        }

        return runs;
    }

    private async Task<IReadOnlyList<StepRecord>> ReadStepsAsync(string whereAndOrder, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command("SELECT " + StepColumns + " FROM {s}.steps " + whereAndOrder, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var steps = new List<StepRecord>();
        while (await reader.ReadAsync(ct))
        {
            steps.Add(new StepRecord
            {
                StepId = reader.GetInt64(0),
                RunId = reader.GetString(1),
                Wave = reader.GetInt32(2),
                Subject = reader.GetString(3),
                StepType = reader.GetString(4),
                Sequence = reader.GetInt32(5),
                InputJson = reader.IsDBNull(6) ? null : reader.GetString(6),
                State = JournalValues.ParseState(reader.GetString(7)),
                Attempts = reader.GetInt32(8),
                Checkpoint = JournalValues.ParseCheckpoint(reader.GetString(9)),
                LogTail = reader.GetFieldValue<string[]>(10),
                LastReason = reader.IsDBNull(11) ? null : reader.GetString(11),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(12),
                StartedAt = reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                FinishedAt = reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14),
                UpdatedAt = reader.GetFieldValue<DateTimeOffset>(15),
                Version = reader.GetInt64(16),
            });
        }

        return steps;
    }

    private NpgsqlCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = _dataSource.CreateCommand(WithSchema(sql));
        AddParameters(command, parameters);
        return command;
    }

    private NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(WithSchema(sql), connection, transaction);
        AddParameters(command, parameters);
        return command;
    }

    /// <summary>The schema name is validated as a plain identifier in the constructor; values always go as parameters.</summary>
    private string WithSchema(string sql) => sql.Replace("{s}", "\"" + _schema + "\"", StringComparison.Ordinal);

    private static void AddParameters(NpgsqlCommand command, (string Name, object? Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}
