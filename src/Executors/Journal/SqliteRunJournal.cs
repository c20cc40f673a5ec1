using Microsoft.Data.Sqlite;

namespace Taquin.Executors.Journal;

/// <summary>
/// The embedded journal: one SQLite file (by convention beside the plan, <c>plan.journal.db</c>). WAL mode and a
/// busy timeout let several processes share the file; every read-modify-write runs in a <c>BEGIN IMMEDIATE</c>
/// transaction, which takes the single writer lock up front so two writers never deadlock on an upgrade.
/// </summary>
public sealed class SqliteRunJournal : IRunJournal, IAsyncDisposable, IDisposable
{
    private const int BusyTimeoutMilliseconds = 30_000;

    private static readonly string Schema = """
        CREATE TABLE IF NOT EXISTS runs (
            run_id TEXT PRIMARY KEY,
            plan_digest TEXT NOT NULL,
            inventory_digest TEXT NOT NULL,
            plan_path TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT,
            mode TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS steps (
            step_id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            wave INTEGER NOT NULL,
            subject TEXT NOT NULL,
            step_type TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            input_json TEXT,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            checkpoint_json TEXT NOT NULL DEFAULT '{}',
            log_tail_json TEXT NOT NULL DEFAULT '[]',
            last_reason TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            updated_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            UNIQUE (run_id, subject, step_type, wave));
        CREATE INDEX IF NOT EXISTS steps_by_run ON steps (run_id, wave, subject, sequence);
        CREATE TABLE IF NOT EXISTS step_transitions (
            transition_id INTEGER PRIMARY KEY AUTOINCREMENT,
            step_id INTEGER NOT NULL REFERENCES steps(step_id),
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS step_transitions_by_step ON step_transitions (step_id, transition_id);
        CREATE TABLE IF NOT EXISTS audit_events (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT,
            details TEXT);
        CREATE INDEX IF NOT EXISTS audit_events_by_run ON audit_events (run_id, event_id);
        CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS step_transitions_no_update BEFORE UPDATE ON step_transitions
            BEGIN SELECT RAISE(ABORT, 'step_transitions is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS step_transitions_no_delete BEFORE DELETE ON step_transitions
            BEGIN SELECT RAISE(ABORT, 'step_transitions is append-only'); END;
        CREATE TABLE IF NOT EXISTS leases (
            resource TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS slots (
            pool TEXT NOT NULL,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (pool, holder));
        CREATE TABLE IF NOT EXISTS vlan_allocations (
            vlan INTEGER PRIMARY KEY CHECK (vlan BETWEEN 1 AND 4094),
            vm TEXT NOT NULL UNIQUE,
            allocated_at TEXT NOT NULL,
            allocated_by TEXT NOT NULL);
        """;

    private const string StepColumns = """
        step_id, run_id, wave, subject, step_type, sequence, input_json, state, attempts, checkpoint_json,
        log_tail_json, last_reason, created_at, started_at, finished_at, updated_at, version
        """;

    private readonly string _connectionString;
    private readonly TimeProvider _clock;

    public SqliteRunJournal(string path, TimeProvider clock)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        DatabasePath = Path.GetFullPath(path);
        _clock = clock;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = BusyTimeoutMilliseconds / 1000,
        }.ToString();
    }

    public string DatabasePath { get; }

    public async Task InitializeAsync(CancellationToken ct = default)
    {
        var directory = Path.GetDirectoryName(DatabasePath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await using var connection = await OpenAsync(ct);
        // WAL lets readers run beside the one writer; the mode is stored in the file, so set once suffices.
        Execute(connection, "PRAGMA journal_mode=WAL;");
        WithImmediateTransaction(connection, () => Execute(connection, Schema));
    }

    public async Task CreateRunAsync(RunRecord run, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(run.RunId);
        await using var connection = await OpenAsync(ct);
        WithImmediateTransaction(connection, () =>
        {
            var inserted = Execute(connection, """
                INSERT INTO runs (run_id, plan_digest, inventory_digest, plan_path, created_at, created_by, mode)
                VALUES (@run_id, @plan_digest, @inventory_digest, @plan_path, @created_at, @created_by, @mode)
                ON CONFLICT (run_id) DO NOTHING
                """,
                ("@run_id", run.RunId), ("@plan_digest", run.PlanDigest), ("@inventory_digest", run.InventoryDigest),
                ("@plan_path", run.PlanPath), ("@created_at", JournalValues.ToText(run.CreatedAt)),
                ("@created_by", run.CreatedBy), ("@mode", run.Mode));
            if (inserted == 0)
            {
                // Re-creating the same run (a resumed CLI call) is harmless; reusing its id for another plan is not.
                var existing = ReadRuns(connection, "WHERE run_id = @run_id", ("@run_id", run.RunId)).Single();
                if (existing.PlanDigest != run.PlanDigest || existing.InventoryDigest != run.InventoryDigest)
                {
                    throw JournalValues.RunIdTaken(run.RunId);
                }
            }
        });
    }

    public async Task<RunRecord?> GetRunAsync(string runId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        return ReadRuns(connection, "WHERE run_id = @run_id", ("@run_id", runId)).SingleOrDefault();
    }

    public async Task<IReadOnlyList<RunRecord>> ListRunsAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        return ReadRuns(connection, "");
    }

    public async Task AddStepsAsync(string runId, IReadOnlyList<NewStep> steps, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var now = JournalValues.ToText(_clock.GetUtcNow());
        WithImmediateTransaction(connection, () =>
        {
            if (ReadRuns(connection, "WHERE run_id = @run_id", ("@run_id", runId)).Count == 0)
            {
                throw JournalValues.UnknownRun(runId);
            }

            using var insert = connection.CreateCommand();
            insert.CommandText = """
                INSERT INTO steps (run_id, wave, subject, step_type, sequence, input_json, state, created_at, updated_at)
                VALUES (@run_id, @wave, @subject, @step_type, @sequence, @input_json, @state, @now, @now)
                ON CONFLICT (run_id, subject, step_type, wave) DO NOTHING
                """;
            var wave = insert.Parameters.Add("@wave", SqliteType.Integer);
            var subject = insert.Parameters.Add("@subject", SqliteType.Text);
            var stepType = insert.Parameters.Add("@step_type", SqliteType.Text);
            var sequence = insert.Parameters.Add("@sequence", SqliteType.Integer);
            var inputJson = insert.Parameters.Add("@input_json", SqliteType.Text);
            insert.Parameters.AddWithValue("@run_id", runId);
            insert.Parameters.AddWithValue("@state", nameof(StepState.Pending));
            insert.Parameters.AddWithValue("@now", now);
            foreach (var step in steps)
            {
                wave.Value = step.Wave;
                subject.Value = step.Subject;
                stepType.Value = step.StepType;
                sequence.Value = step.Sequence;
                inputJson.Value = (object?)step.InputJson ?? DBNull.Value;
                insert.ExecuteNonQuery();
            }
        });
    }

    public async Task<StepRecord?> GetStepAsync(long stepId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        return ReadSteps(connection, "WHERE step_id = @step_id", ("@step_id", stepId)).SingleOrDefault();
    }

    public async Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, int? wave = null, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        return ReadSteps(connection,
            "WHERE run_id = @run_id AND (@wave IS NULL OR wave = @wave) ORDER BY wave, subject, sequence, step_id",
            ("@run_id", runId), ("@wave", wave));
    }

    public async Task<bool> TryTransitionAsync(long stepId, StepState expected, StepState next, string reason, string actor, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var now = JournalValues.ToText(_clock.GetUtcNow());
        return WithImmediateTransaction(connection, () =>
        {
            var moved = Execute(connection, """
                UPDATE steps SET
                    state = @next,
                    attempts = attempts + @attempt,
                    started_at = CASE WHEN @entering_running THEN @now ELSE started_at END,
                    finished_at = CASE WHEN @entering_running THEN NULL WHEN @finishing THEN @now ELSE finished_at END,
                    last_reason = @reason,
                    updated_at = @now,
                    version = version + 1
                WHERE step_id = @step_id AND state = @expected
                """,
                ("@next", next.ToString()), ("@expected", expected.ToString()), ("@step_id", stepId),
                ("@attempt", JournalValues.EntersRunning(next) ? 1 : 0),
                ("@entering_running", JournalValues.EntersRunning(next)), ("@finishing", JournalValues.Finishes(next)),
                ("@reason", reason), ("@now", now));
            if (moved == 0)
            {
                EnsureStepExists(connection, stepId);
                return false;
            }

            Execute(connection, """
                INSERT INTO step_transitions (step_id, from_state, to_state, reason, actor, at)
                VALUES (@step_id, @from, @to, @reason, @actor, @now)
                """,
                ("@step_id", stepId), ("@from", expected.ToString()), ("@to", next.ToString()),
                ("@reason", reason), ("@actor", actor), ("@now", now));
            return true;
        });
    }

    public async Task SaveCheckpointAsync(long stepId, IReadOnlyDictionary<string, string?> values, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        // json_patch is an RFC 7396 merge: a key patched to null disappears, exactly the contract.
        var updated = Execute(connection, """
            UPDATE steps SET checkpoint_json = json_patch(checkpoint_json, @patch), updated_at = @now, version = version + 1
            WHERE step_id = @step_id
            """,
            ("@patch", JournalValues.CheckpointPatch(values)), ("@now", JournalValues.ToText(_clock.GetUtcNow())),
            ("@step_id", stepId));
        if (updated == 0)
        {
            throw JournalValues.UnknownStep(stepId);
        }
    }

    public async Task AppendLogAsync(long stepId, string line, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var now = JournalValues.ToText(_clock.GetUtcNow());
        WithImmediateTransaction(connection, () =>
        {
            using var read = Command(connection, "SELECT log_tail_json FROM steps WHERE step_id = @step_id", ("@step_id", stepId));
            if (read.ExecuteScalar() is not string json)
            {
                throw JournalValues.UnknownStep(stepId);
            }

            var lines = JournalValues.ParseLogTail(json).Append(line).TakeLast(IRunJournal.LogTailLines).ToList();
            Execute(connection, """
                UPDATE steps SET log_tail_json = @lines, updated_at = @now, version = version + 1 WHERE step_id = @step_id
                """,
                ("@lines", JournalValues.LogTailJson(lines)), ("@now", now), ("@step_id", stepId));
        });
    }

    public async Task<IReadOnlyList<StepTransition>> GetTransitionsAsync(long stepId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        using var command = Command(connection, """
            SELECT step_id, from_state, to_state, reason, actor, at FROM step_transitions
            WHERE step_id = @step_id ORDER BY transition_id
            """, ("@step_id", stepId));
        using var reader = command.ExecuteReader();
        var transitions = new List<StepTransition>();
        while (reader.Read())
        {
            transitions.Add(new StepTransition(
                reader.GetInt64(0), JournalValues.ParseState(reader.GetString(1)), JournalValues.ParseState(reader.GetString(2)),
                reader.GetString(3), reader.GetString(4), JournalValues.FromText(reader.GetString(5))));
        }

        return transitions;
    }

    public async Task AppendEventAsync(AuditEvent auditEvent, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        Execute(connection, """
            INSERT INTO audit_events (run_id, at, actor, kind, subject, details)
            VALUES (@run_id, @at, @actor, @kind, @subject, @details)
            """,
            ("@run_id", auditEvent.RunId), ("@at", JournalValues.ToText(auditEvent.At)), ("@actor", auditEvent.Actor),
            ("@kind", auditEvent.Kind), ("@subject", auditEvent.Subject), ("@details", auditEvent.Details));
    }

    public async Task<IReadOnlyList<AuditEvent>> GetEventsAsync(string runId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        using var command = Command(connection, """
            SELECT event_id, run_id, at, actor, kind, subject, details FROM audit_events
            WHERE run_id = @run_id ORDER BY event_id
            """, ("@run_id", runId));
        using var reader = command.ExecuteReader();
        var events = new List<AuditEvent>();
        while (reader.Read())
        {
            events.Add(new AuditEvent
            {
                EventId = reader.GetInt64(0),
                RunId = reader.GetString(1),
                At = JournalValues.FromText(reader.GetString(2)),
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
        var now = _clock.GetUtcNow();
        await using var connection = await OpenAsync(ct);
        // One statement: take a free or expired lease, or extend one's own; a live lease of another holder stays.
        return Execute(connection, """
            INSERT INTO leases (resource, holder, expires_at) VALUES (@resource, @holder, @expires_at)
            ON CONFLICT (resource) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at <= @now
            """,
            ("@resource", resource), ("@holder", holder), ("@expires_at", JournalValues.ToText(now + ttl)),
            ("@now", JournalValues.ToText(now))) == 1;
    }

    public async Task ReleaseLeaseAsync(string resource, string holder, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        Execute(connection, "DELETE FROM leases WHERE resource = @resource AND holder = @holder",
            ("@resource", resource), ("@holder", holder));
    }

    public async Task<bool> TryAcquireSlotAsync(string pool, int capacity, string holder, TimeSpan ttl, CancellationToken ct = default)
    {
        JournalValues.ValidateLease(pool, holder, ttl);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var now = _clock.GetUtcNow();
        await using var connection = await OpenAsync(ct);
        // BEGIN IMMEDIATE serialises every writer of the file, so count-then-insert cannot overshoot capacity.
        return WithImmediateTransaction(connection, () =>
        {
            Execute(connection, "DELETE FROM slots WHERE pool = @pool AND expires_at <= @now",
                ("@pool", pool), ("@now", JournalValues.ToText(now)));
            return Execute(connection, """
                INSERT INTO slots (pool, holder, expires_at)
                SELECT @pool, @holder, @expires_at
                WHERE EXISTS (SELECT 1 FROM slots WHERE pool = @pool AND holder = @holder)
                   OR (SELECT count(*) FROM slots WHERE pool = @pool) < @capacity
                ON CONFLICT (pool, holder) DO UPDATE SET expires_at = excluded.expires_at
                """,
                ("@pool", pool), ("@holder", holder), ("@expires_at", JournalValues.ToText(now + ttl)),
                ("@capacity", capacity)) == 1;
        });
    }

    public async Task ReleaseSlotAsync(string pool, string holder, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        Execute(connection, "DELETE FROM slots WHERE pool = @pool AND holder = @holder", ("@pool", pool), ("@holder", holder));
    }

    public async Task<int> AllocateVlanAsync(string vm, int from, int to, string actor, CancellationToken ct = default)
    {
        JournalValues.ValidateVlanRequest(vm, from, to);
        await using var connection = await OpenAsync(ct);
        // BEGIN IMMEDIATE is the file's single writer lock: read-the-gaps-then-insert cannot interleave.
        return WithImmediateTransaction(connection, () =>
        {
            using (var existing = Command(connection, "SELECT vlan FROM vlan_allocations WHERE vm = @vm", ("@vm", vm)))
            {
                if (existing.ExecuteScalar() is long held)
                {
                    return (int)held;
                }
            }

            var taken = new List<int>();
            using (var read = Command(connection, "SELECT vlan FROM vlan_allocations WHERE vlan BETWEEN @from AND @to ORDER BY vlan",
                ("@from", from), ("@to", to)))
            using (var reader = read.ExecuteReader())
            {
                while (reader.Read())
                {
                    taken.Add(reader.GetInt32(0));
                }
            }

            var vlan = JournalValues.LowestFreeVlan(taken, from, to) ?? throw new VlanRangeExhaustedException(vm, from, to);
            Execute(connection, "INSERT INTO vlan_allocations (vlan, vm, allocated_at, allocated_by) VALUES (@vlan, @vm, @at, @by)",
                ("@vlan", vlan), ("@vm", vm), ("@at", JournalValues.ToText(_clock.GetUtcNow())), ("@by", actor));
            return vlan;
        });
    }

    public async Task<IReadOnlyList<VlanAllocation>> GetVlanAllocationsAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        using var command = Command(connection, "SELECT vlan, vm, allocated_at, allocated_by FROM vlan_allocations ORDER BY vlan");
        using var reader = command.ExecuteReader();
        var allocations = new List<VlanAllocation>();
        while (reader.Read())
        {
            allocations.Add(new VlanAllocation(reader.GetInt32(0), reader.GetString(1), JournalValues.FromText(reader.GetString(2)), reader.GetString(3)));
        }

        return allocations;
    }

    public async Task<bool> ReleaseVlanAsync(string vm, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        return Execute(connection, "DELETE FROM vlan_allocations WHERE vm = @vm", ("@vm", vm)) == 1;
    }

    /// <summary>Closes pooled connections so the file can be moved or deleted.</summary>
    public void Dispose()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(ct);
            // Another process holding the write lock makes SQLite wait instead of failing with SQLITE_BUSY;
            // FULL syncs the WAL on every commit, so a write that returned survives a power cut too.
            Execute(connection, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}; PRAGMA synchronous = FULL;");
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static void WithImmediateTransaction(SqliteConnection connection, Action work) =>
        WithImmediateTransaction(connection, () =>
        {
            work();
            return true;
        });

    private static T WithImmediateTransaction<T>(SqliteConnection connection, Func<T> work)
    {
        Execute(connection, "BEGIN IMMEDIATE;");
        try
        {
            var result = work();
            Execute(connection, "COMMIT;");
            return result;
        }
        catch
        {
            try
            {
                Execute(connection, "ROLLBACK;");
            }
            catch (SqliteException)
            {
                // SQLite already rolled back (e.g. disk full); the original error is the one to report.
            }

            throw;
        }
    }

    private static void EnsureStepExists(SqliteConnection connection, long stepId)
    {
        using var command = Command(connection, "SELECT 1 FROM steps WHERE step_id = @step_id", ("@step_id", stepId));
        if (command.ExecuteScalar() is null)
        {
            throw JournalValues.UnknownStep(stepId);
        }
    }

    private static List<RunRecord> ReadRuns(SqliteConnection connection, string where, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, $"""
            SELECT run_id, plan_digest, inventory_digest, plan_path, created_at, created_by, mode FROM runs {where}
            ORDER BY created_at, run_id
            """, parameters);
        using var reader = command.ExecuteReader();
        var runs = new List<RunRecord>();
        while (reader.Read())
        {
            runs.Add(new RunRecord
            {
                RunId = reader.GetString(0),
                PlanDigest = reader.GetString(1),
                InventoryDigest = reader.GetString(2),
                PlanPath = reader.IsDBNull(3) ? null : reader.GetString(3),
                CreatedAt = JournalValues.FromText(reader.GetString(4)),
                CreatedBy = reader.IsDBNull(5) ? null : reader.GetString(5),
                Mode = reader.GetString(6),
            });
        }

        return runs;
    }

    private static List<StepRecord> ReadSteps(SqliteConnection connection, string whereAndOrder, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, $"SELECT {StepColumns} FROM steps {whereAndOrder}", parameters);
        using var reader = command.ExecuteReader();
        var steps = new List<StepRecord>();
        while (reader.Read())
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
                LogTail = JournalValues.ParseLogTail(reader.GetString(10)),
                LastReason = reader.IsDBNull(11) ? null : reader.GetString(11),
                CreatedAt = JournalValues.FromText(reader.GetString(12)),
                StartedAt = reader.IsDBNull(13) ? null : JournalValues.FromText(reader.GetString(13)),
                FinishedAt = reader.IsDBNull(14) ? null : JournalValues.FromText(reader.GetString(14)),
                UpdatedAt = JournalValues.FromText(reader.GetString(15)),
                Version = reader.GetInt64(16),
            });
        }

        return steps;
    }

    private static int Execute(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
