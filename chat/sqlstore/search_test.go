package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// searchFixture stores an owner whose address book holds users with the
// names given, and returns the owner's id.
func searchFixture(t *testing.T, s *Store, names [][2]string) int64 {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	owner, _, err := s.UpsertUser(ctx, "+79990000100", now)
	if err != nil {
		t.Fatal(err)
	}
	var phones []string
	for i, n := range names {
		phone := "+7999000020" + string(rune('0'+i))
		u, _, err := s.UpsertUser(ctx, phone, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{FirstName: &n[0], LastName: &n[1]}); err != nil {
			t.Fatal(err)
		}
		phones = append(phones, phone)
	}
	if _, err := s.SyncContacts(ctx, owner.ID, phones); err != nil {
		t.Fatal(err)
	}
	return owner.ID
}

func searchNames(t *testing.T, s *Store, owner int64, q string) []string {
	t.Helper()
	users, err := s.Contacts(t.Context(), owner, q, 100)
	if err != nil {
		t.Fatalf("Contacts(%q): %v", q, err)
	}
	var out []string
	for _, u := range users {
		out = append(out, u.FirstName+" "+u.LastName)
	}
	return out
}

// Issue 10, item 10: search compares normalised, case-folded text, so a
// name matches however a person types it: decomposed, in capitals, with
// or without a final sigma, with ß as ss.
func TestSearchMatchesNormalisedCaseFoldedNames(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			s := openStore(t, d.name, d.freshDB(t))
			// Names arrive in NFC (the text policy); a decomposed name
			// from before it is covered by the backfill test.
			owner := searchFixture(t, s, [][2]string{
				{"Zo\u00eb", "Brown"},
				{"Οδυσσεύς", ""},
				{"Анна", "Straße"},
				{"ZOE", "Plain"},
			})
			for _, tc := range []struct {
				q    string
				want []string
			}{
				{"zoe\u0308", []string{"Zo\u00eb Brown"}}, // decomposed ë
				{"ZOË", []string{"Zo\u00eb Brown"}},
				{"ΟΔΥΣΣΕΥΣ", nil}, // no accent: a different letter
				{"ΟΔΥΣΣΕΎΣ", []string{"Οδυσσεύς "}},
				{"οδυσσευσ", nil},
				{"οδυσσεύσ", []string{"Οδυσσεύς "}}, // final sigma typed as σ
				{"strasse", []string{"Анна Straße"}},
				{"АННА", []string{"Анна Straße"}},
				{"zoe", []string{"ZOE Plain"}},
				{"%", nil},
			} {
				got := searchNames(t, s, owner, tc.q)
				if len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
					t.Errorf("search %q: got %q, want %q", tc.q, got, tc.want)
				}
			}
		})
	}
}

// The search key of rows written by older code is recomputed at start,
// once: the backfill is keyed on chat.SearchKeyVersion.
func TestBackfillSearchNames(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := d.freshDB(t)
			s := openStore(t, d.name, dsn)
			owner := searchFixture(t, s, [][2]string{{"Zoe\u0308", "Οδυσσεύς"}, {"Ann", "Lee"}})
			ctx := context.Background()
			// As the first version left them: lower-cased, not folded, the
			// name stored decomposed; and no backfill recorded.
			if _, err := s.w.ExecContext(ctx, `UPDATE users SET first_name = ?, search_name = ? WHERE first_name = ?`,
				"Zoe\u0308", "zoe\u0308 οδυσσεύς", "Zo\u00eb"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.ExecContext(ctx, `UPDATE users SET search_name = ? WHERE first_name = ?`, "stale ann", "Ann"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.ExecContext(ctx, `DELETE FROM backfills`); err != nil {
				t.Fatal(err)
			}
			if got := searchNames(t, s, owner, "zoë οδυσσευσ"); len(got) != 0 {
				t.Fatalf("before the backfill the old key matched: %q", got)
			}
			s.Close()

			s = openStore(t, d.name, dsn)
			if got := searchNames(t, s, owner, "ZOË ΟΔΥΣΣΕΎΣ"); len(got) != 1 {
				t.Errorf("after the backfill: got %q, want the one user", got)
			}
			if got := searchNames(t, s, owner, "ann lee"); len(got) != 1 {
				t.Errorf("after the backfill, ann lee: got %q", got)
			}
			v, err := s.backfillVersion(ctx, backfillSearchName)
			if err != nil || v != chat.SearchKeyVersion {
				t.Errorf("backfill version %d, %v; want %d", v, err, chat.SearchKeyVersion)
			}
			// Recorded: the next start reads the version and walks nothing.
			if _, err := s.w.ExecContext(ctx, `UPDATE users SET search_name = ? WHERE first_name = ?`, "marker", "Ann"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s = openStore(t, d.name, dsn)
			if got := searchNames(t, s, owner, "marker"); len(got) != 1 {
				t.Errorf("a current version walked the rows again: %q", got)
			}
		})
	}
}

// A backfill walks every row, across batches.
func TestBackfillSearchNamesBatches(t *testing.T) {
	s := openStore(t, SQLite, dialects()[0].freshDB(t))
	ctx := t.Context()
	now := time.Now()
	const n = backfillBatch*2 + 7
	for i := range n {
		u, _, err := s.UpsertUser(ctx, "+7999"+leftPad(i), now)
		if err != nil {
			t.Fatal(err)
		}
		name := "ΣΟΦΙΑ"
		if _, err := s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{FirstName: &name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET search_name = 'old'`); err != nil {
		t.Fatal(err)
	}
	got, err := s.backfillSearchNames(ctx)
	if err != nil || got != n {
		t.Fatalf("backfillSearchNames = %d, %v; want %d", got, err, n)
	}
	var left int
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE search_name <> ?`, chat.SearchKey("ΣΟΦΙΑ ")).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows left with another key (%v)", left, err)
	}
}

func leftPad(i int) string {
	s := "0000000" + string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
	return s[len(s)-7:]
}
