package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// On PostgreSQL the request log is partitioned by day: rows land in their
// day's partition, a day made late takes its rows over from the default
// partition, and retention drops whole days.
func TestPartitions_DailyPartitionsAndRetentionByDrop(t *testing.T) {
	ctx := t.Context()
	db := openMigrated(t, storetest.PostgresDSN(t))
	today := time.Now().UTC().Truncate(24 * time.Hour)
	// A row four days back arrives before its day's partition exists: the
	// default partition takes it.
	early := &store.RequestLog{RequestID: "early", StartTime: today.AddDate(0, 0, -4).Add(time.Hour)}
	if _, err := db.NewInsert().Model(early).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureLogPartitions(ctx, db, today.AddDate(0, 0, -5), 2); err != nil {
		t.Fatal(err)
	}
	for d := -5; d <= 0; d++ {
		rec := &store.RequestLog{RequestID: "day" + time.Duration(d).String(), StartTime: today.AddDate(0, 0, d).Add(2 * time.Hour)}
		if _, err := db.NewInsert().Model(rec).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	where := func(id string) string {
		var part string
		if err := db.NewRaw("SELECT tableoid::regclass::text FROM switchboard_request_logs WHERE request_id = ?", id).Scan(ctx, &part); err != nil {
			t.Fatal(err)
		}
		return part
	}
	if got, want := where("early"), "switchboard_request_logs_p"+today.AddDate(0, 0, -4).Format("20060102"); got != want {
		t.Errorf("the early row is in %s, want %s (moved out of the default partition)", got, want)
	}
	if got := where("day0s"); !strings.HasSuffix(got, today.Format("20060102")) {
		t.Errorf("today's row is in %s", got)
	}
	dropped, err := store.DropLogPartitionsBefore(ctx, db, today.AddDate(0, 0, -2))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dropped)
	want := []string{}
	for d := -5; d <= -3; d++ {
		want = append(want, "switchboard_request_logs_p"+today.AddDate(0, 0, d).Format("20060102"))
	}
	if !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	n, err := db.NewSelect().Model((*store.RequestLog)(nil)).Count(ctx)
	if err != nil || n != 3 {
		t.Errorf("%d rows left (%v), want the last three days'", n, err)
	}
}

// The admin API's queries read today's partition alone and use its
// indexes (EXPLAIN).
func TestPartitions_AdminQueriesPruneToTheWindowAndUseIndexes(t *testing.T) {
	ctx := t.Context()
	db := openMigrated(t, storetest.PostgresDSN(t))
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := store.EnsureLogPartitions(ctx, db, today.AddDate(0, 0, -3), 2); err != nil {
		t.Fatal(err)
	}
	// A day's worth of calls, so the planner chooses as it would in use.
	if _, err := db.ExecContext(ctx, `INSERT INTO switchboard_request_logs
		(request_id, procedure, service, method, stream_type, protocol, http_version, code, error_message, error_reason,
		 start_time, duration_us, peer_ip, user_agent, key_id, key_name, request_bytes, response_bytes,
		 messages_received, messages_sent, request_payload, response_payload, error_details)
		SELECT 'r' || i, 'p.v1.S/M', 'p.v1.S', 'M', 'unary', 'connect', 'HTTP/2.0', CASE WHEN i % 50 = 0 THEN 'internal' ELSE 'ok' END, '', '',
		       ?::timestamptz + (i % 86400) * interval '1 second', 100, '127.0.0.1', '', '', '', 1, 1, 1, 1, '', '', ''
		FROM generate_series(1, 100000) AS i`, today); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE switchboard_request_logs"); err != nil {
		t.Fatal(err)
	}
	var plan []string
	err := db.NewRaw(`EXPLAIN SELECT * FROM switchboard_request_logs
		WHERE start_time >= ? AND start_time < ? AND code = 'internal' ORDER BY id DESC LIMIT 51`,
		today.Add(time.Hour), today.Add(2*time.Hour)).Scan(ctx, &plan)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "_p"+today.Format("20060102")) || strings.Contains(text, "_p"+today.AddDate(0, 0, -1).Format("20060102")) ||
		!strings.Contains(text, "Index") {
		t.Errorf("a one-hour window should read today's partition alone, by index:\n%s", text)
	}
	plan = nil
	if err := db.NewRaw(`EXPLAIN SELECT * FROM switchboard_request_logs WHERE request_id = 'x' ORDER BY id DESC LIMIT 1`).Scan(ctx, &plan); err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "request_id_idx") {
		t.Errorf("GetRequestLog should use the request id index:\n%s", text)
	}
}
