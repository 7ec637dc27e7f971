package main

import (
	"fmt"
	"net/url"
	"testing"
)

func urlQuery(s string) string { return url.QueryEscape(s) }

func TestContacts(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		anna := e.loginTest("+79990000001", "111111")
		boris := e.loginTest("+79990000002", "222222")
		e.want(e.do("PATCH", "/v1/me", anna.AccessToken, map[string]any{"first_name": "Анна", "last_name": "Петрова"}), 200)
		e.want(e.do("PATCH", "/v1/me", boris.AccessToken, map[string]any{"first_name": "Борис"}), 200)

		// Before Boris knows Anna's number, her profile hides it.
		r := e.want(e.do("GET", "/v1/users/"+anna.User.ID, boris.AccessToken, nil), 200)
		if r.field(t, "phone") != nil || r.field(t, "first_name") != "Анна" {
			t.Fatalf("got %s, want profile without phone", r.body)
		}

		book := []string{"8 999 000-00-01", "Mom", "", "+7 (999) 000 00 02", "89990000001", "+79161112233"}
		r = e.want(e.do("POST", "/v1/contacts/sync", boris.AccessToken, map[string]any{"phones": book}), 200)
		var synced struct {
			Users []struct {
				ID    string `json:"id"`
				Phone string `json:"phone"`
			} `json:"users"`
		}
		r.json(t, &synced)
		if len(synced.Users) != 1 || synced.Users[0].ID != anna.User.ID || synced.Users[0].Phone != "+79990000001" {
			t.Fatalf("got %s, want just Anna with her phone (self, duplicates, junk and unregistered left out)", r.body)
		}
		r = e.want(e.do("GET", "/v1/users/"+anna.User.ID, boris.AccessToken, nil), 200)
		if r.field(t, "phone") != "+79990000001" {
			t.Fatalf("got %s, want phone once it is in the address book", r.body)
		}

		// A number in the book that registers later shows up without
		// another sync.
		r = e.want(e.do("GET", "/v1/contacts", boris.AccessToken, nil), 200)
		if n := len(r.field(t, "users").([]any)); n != 1 {
			t.Fatalf("got %d contacts, want 1: %s", n, r.body)
		}
		vera := e.login("+79161112233")
		e.want(e.do("PATCH", "/v1/me", vera.AccessToken, map[string]any{"first_name": "Вера"}), 200)
		r = e.want(e.do("GET", "/v1/contacts", boris.AccessToken, nil), 200)
		var list struct {
			Users []struct {
				ID        string `json:"id"`
				FirstName string `json:"first_name"`
			} `json:"users"`
		}
		r.json(t, &list)
		if len(list.Users) != 2 || list.Users[0].FirstName != "Анна" || list.Users[1].ID != vera.User.ID {
			t.Fatalf("got %s, want Анна then Вера, by name", r.body)
		}

		// Name search is case-insensitive in Cyrillic and takes wildcards
		// literally.
		for _, c := range []struct {
			q    string
			want int
		}{{"петр", 1}, {"АННА", 1}, {"ве", 1}, {"а", 2}, {"%", 0}, {"_", 0}, {"Борис", 0}} {
			r := e.want(e.do("GET", "/v1/contacts?q="+urlQuery(c.q), boris.AccessToken, nil), 200)
			if n := len(r.field(t, "users").([]any)); n != c.want {
				t.Errorf("q=%q: got %d users, want %d: %s", c.q, n, c.want, r.body)
			}
		}
	})
}

func TestContactSyncLimits(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		phones := make([]string, 5001)
		for i := range phones {
			phones[i] = fmt.Sprintf("+7916%07d", i)
		}
		e.wantErr(e.do("POST", "/v1/contacts/sync", tk.AccessToken, map[string]any{"phones": phones}), 400, "too_many_phones")
		r := e.want(e.do("POST", "/v1/contacts/sync", tk.AccessToken, map[string]any{"phones": phones[:5000]}), 200)
		if n := len(r.field(t, "users").([]any)); n != 0 {
			t.Fatalf("got %d users, want 0", n)
		}
	})
}

func TestAddContactByNumber(t *testing.T) {
	e := newEnv(t, nil)
	anna := e.loginTest("+79990000001", "111111")
	boris := e.loginTest("+79990000002", "222222")
	r := e.want(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phone": "8 999 000-00-02"}), 200)
	var got struct {
		Users []struct {
			ID string `json:"id"`
		} `json:"users"`
	}
	r.json(t, &got)
	if len(got.Users) != 1 || got.Users[0].ID != boris.User.ID {
		t.Fatalf("got %s, want Boris", r.body)
	}
	e.wantErr(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phone": "Mom"}), 400, "invalid_phone")
	e.wantErr(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phone": "+79990000002", "phones": []string{}}), 400, "invalid_phones")
}
