package main

import (
	"bytes"
	"testing"
)

func TestMarketplaceSubjects(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		adm := e.admin("+79990000001", "111111")
		buyer := e.loginTest("+79990000002", "222222")
		seller := e.loginTest("+79991234001", "333333")

		// The shipped catalogue offers "write to the seller".
		cat := e.screenLang("/v1/screens/catalogue", buyer.AccessToken, "ru")
		if cat.status != 200 || !bytes.Contains(cat.body, []byte(`"subject":"listing:sofa-grey"`)) || !bytes.Contains(cat.body, []byte("Написать продавцу")) {
			t.Fatalf("catalogue: got %d %s", cat.status, cat.body)
		}
		// A listing of the business: the dialog carries it as its card.
		d := e.want(e.do("POST", "/v1/business/dialog", buyer.AccessToken, map[string]any{"subject": "listing:sofa-grey"}), 201)
		if d.field(t, "subject_card", "type") != "listing" || d.field(t, "subject_card", "collection") != "catalogue" {
			t.Fatalf("dialog: %s, want the listing's card", d.body)
		}
		chat := e.screenLang("/v1/screens/chat?dialog_id="+d.field(t, "id").(string), buyer.AccessToken, "ru")
		if !bytes.Contains(chat.body, []byte(`"id":"subject-card"`)) || !bytes.Contains(chat.body, []byte("Серый трёхместный диван")) {
			t.Fatalf("chat: no subject card in %s", chat.body)
		}

		// A user's listing: the buyer writes to the seller about it; both
		// see the card, the seller in their chat list too.
		listing := map[string]any{"title": map[string]string{"en": "Guitar", "ru": "Гитара"}, "price": 7000, "currency": "RUB", "seller_id": seller.User.ID}
		e.want(e.do("PUT", "/v1/admin/collections/catalogue/documents/guitar", adm.AccessToken, map[string]any{"data": listing, "published": true}), 201)
		bd := e.want(e.do("POST", "/v1/dialogs", buyer.AccessToken, map[string]any{"user_id": seller.User.ID, "subject": "listing:guitar"}), 201)
		id := bd.field(t, "id").(string)
		sd := e.want(e.do("GET", "/v1/dialogs/"+id, seller.AccessToken, nil), 200)
		if sd.field(t, "subject_card", "id") != "guitar" {
			t.Fatalf("seller's dialog: %s", sd.body)
		}
		if list := e.screen("/v1/screens/chat_list", seller.AccessToken, ""); !bytes.Contains(list.body, []byte("Guitar")) {
			t.Fatalf("chat list: no listing in %s", list.body)
		}
		// A subject naming nothing published has no card.
		e.want(e.do("PUT", "/v1/admin/collections/catalogue/documents/guitar", adm.AccessToken, map[string]any{"published": false}), 200)
		if sd := e.want(e.do("GET", "/v1/dialogs/"+id, seller.AccessToken, nil), 200); bytes.Contains(sd.body, []byte("subject_card")) {
			t.Fatalf("a draft listing still shows: %s", sd.body)
		}
	})
}
