package main

// platform checks the platform's operations against the contract: content
// collections, the business dialog, forms, the bot API and webhooks.
// admin is an admin's tokens, a a user's.
func (c *contract) platform(admin, a tokens) {
	c.t.Helper()
	// Content collections.
	c.json("GET", "/v1/admin/collections", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/collections", a.AccessToken, nil, 403, "forbidden")
	schema := map[string]any{"type": "object", "required": []string{"q"}, "properties": map[string]any{"q": map[string]any{"type": "string"}}}
	c.json("PUT", "/v1/admin/collections/contract", admin.AccessToken, map[string]any{"title": "Contract", "schema": schema}, 201)
	c.json("PUT", "/v1/admin/collections/contract", admin.AccessToken, map[string]any{"schema": schema}, 200)
	c.fail("PUT", "/v1/admin/collections/contract", admin.AccessToken, map[string]any{"schema": map[string]any{"type": 1}}, 400, "invalid_schema")
	c.json("GET", "/v1/admin/collections/contract", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/collections/nope", admin.AccessToken, nil, 404, "no_collection")
	c.json("PUT", "/v1/admin/collections/contract/documents/one", admin.AccessToken, map[string]any{"data": map[string]any{"q": "?"}, "published": true}, 201)
	c.json("PUT", "/v1/admin/collections/contract/documents/two", admin.AccessToken, map[string]any{"data": map[string]any{"q": "!"}}, 201)
	c.json("PUT", "/v1/admin/collections/contract/documents/one", admin.AccessToken, map[string]any{"position": 5}, 200)
	c.fail("PUT", "/v1/admin/collections/contract/documents/one", admin.AccessToken, map[string]any{"data": map[string]any{"q": 1}}, 400, "schema_mismatch")
	c.json("PUT", "/v1/admin/collections/contract/order", admin.AccessToken, map[string]any{"ids": []string{"two", "one"}}, 204)
	c.fail("PUT", "/v1/admin/collections/contract/order", admin.AccessToken, map[string]any{"ids": []string{"two"}}, 400, "invalid_order")
	c.json("DELETE", "/v1/admin/collections/contract/documents/two", admin.AccessToken, nil, 204)
	c.fail("DELETE", "/v1/admin/collections/contract/documents/two", admin.AccessToken, nil, 404, "no_document")

	// The business dialog.
	c.json("POST", "/v1/business/dialog", a.AccessToken, map[string]any{"subject": "news:launch"}, 201)
	c.json("POST", "/v1/business/dialog", a.AccessToken, map[string]any{"subject": "news:launch"}, 200)
	c.fail("POST", "/v1/business/dialog", a.AccessToken, map[string]any{"topic": "x"}, 400, "unknown_field")

	// Forms.
	order := map[string]any{"service": "start", "name": "Анна", "phone": "+79161234567"}
	c.json("POST", "/v1/forms/order_service", a.AccessToken, order, 201)
	c.fail("POST", "/v1/forms/order_service", a.AccessToken, map[string]any{"service": "start"}, 400, "schema_mismatch")
	c.json("GET", "/v1/admin/forms/order_service/submissions", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/forms/order_service/submissions", a.AccessToken, nil, 403, "forbidden")

	// The bot API.
	var k struct{ ID, Key string }
	c.json("POST", "/v1/admin/bot/keys", admin.AccessToken, map[string]any{"name": "CRM"}, 201).json(c.t, &k)
	c.fail("POST", "/v1/admin/bot/keys", a.AccessToken, map[string]any{"name": "CRM"}, 403, "forbidden")
	c.json("GET", "/v1/admin/bot/keys", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/bot/keys", a.AccessToken, nil, 403, "forbidden")
	d := c.json("POST", "/v1/business/dialog", a.AccessToken, map[string]any{"subject": "bot"}, 201).field(c.t, "id").(string)
	c.json("GET", "/v1/bot/dialogs", k.Key, nil, 200)
	c.fail("GET", "/v1/bot/dialogs", a.AccessToken, nil, 401, "invalid_token")
	c.json("GET", "/v1/bot/dialogs/"+d, k.Key, nil, 200)
	c.fail("GET", "/v1/bot/dialogs/1", k.Key, nil, 404, "not_found")
	c.json("POST", "/v1/bot/dialogs/"+d+"/messages", k.Key, map[string]any{"client_id": "b1", "text": "Здравствуйте!"}, 201)
	c.fail("POST", "/v1/bot/dialogs/"+d+"/messages", k.Key, map[string]any{"client_id": "b2", "text": ""}, 400, "invalid_text")
	c.json("GET", "/v1/bot/dialogs/"+d+"/messages", k.Key, nil, 200)
	c.fail("GET", "/v1/bot/dialogs/1/messages", k.Key, nil, 404, "not_found")
	c.json("POST", "/v1/bot/users/"+a.User.ID+"/dialog", k.Key, map[string]any{"subject": "order:1"}, 201)
	c.fail("POST", "/v1/bot/users/1/dialog", k.Key, map[string]any{}, 404, "not_found")
	c.json("DELETE", "/v1/admin/bot/keys/"+k.ID, admin.AccessToken, nil, 204)
	c.fail("DELETE", "/v1/admin/bot/keys/"+k.ID, admin.AccessToken, nil, 404, "not_found")

	// Webhooks (removed before anything could fire one).
	var w struct{ ID string }
	c.json("POST", "/v1/admin/webhooks", admin.AccessToken, map[string]any{"url": "https://hooks.example.com/korobka", "events": []string{"form.submitted"}}, 201).json(c.t, &w)
	c.fail("POST", "/v1/admin/webhooks", admin.AccessToken, map[string]any{"url": "http://127.0.0.1/x", "events": []string{"form.submitted"}}, 400, "invalid_url")
	c.json("GET", "/v1/admin/webhooks", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/webhooks", a.AccessToken, nil, 403, "forbidden")
	c.json("GET", "/v1/admin/webhooks/"+w.ID+"/deliveries", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/webhooks/1/deliveries", admin.AccessToken, nil, 404, "not_found")
	c.json("DELETE", "/v1/admin/webhooks/"+w.ID, admin.AccessToken, nil, 204)
	c.fail("DELETE", "/v1/admin/webhooks/"+w.ID, admin.AccessToken, nil, 404, "not_found")

	// Operators (the admin acts as one).
	od := c.json("POST", "/v1/business/dialog", a.AccessToken, map[string]any{"subject": "operators"}, 201).field(c.t, "id").(string)
	c.json("GET", "/v1/operator/dialogs", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/operator/dialogs", a.AccessToken, nil, 403, "forbidden")
	c.json("PUT", "/v1/operator/dialogs/"+od+"/assignee", admin.AccessToken, map[string]any{"operator_id": admin.User.ID}, 200)
	c.fail("PUT", "/v1/operator/dialogs/"+od+"/assignee", admin.AccessToken, map[string]any{"operator_id": a.User.ID}, 400, "not_operator")
	c.json("POST", "/v1/operator/dialogs/"+od+"/messages", admin.AccessToken, map[string]any{"client_id": "op1", "text": "Здравствуйте!"}, 201)
	c.fail("POST", "/v1/operator/dialogs/"+od+"/messages", a.AccessToken, map[string]any{"client_id": "op1", "text": "x"}, 403, "forbidden")
	c.json("POST", "/v1/operator/dialogs/"+od+"/canned", admin.AccessToken, map[string]any{"answer_id": "greeting", "client_id": "op2"}, 201)
	c.fail("POST", "/v1/operator/dialogs/"+od+"/canned", admin.AccessToken, map[string]any{"answer_id": "nope", "client_id": "op3"}, 404, "no_document")
	c.json("GET", "/v1/operator/dialogs/"+od+"/replies", admin.AccessToken, nil, 200)
	c.json("GET", "/v1/operator/canned", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/operator/canned", a.AccessToken, nil, 403, "forbidden")
	c.json("GET", "/v1/operator/dialogs/"+od+"/messages", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/operator/dialogs/"+od+"/messages", a.AccessToken, nil, 403, "forbidden")
	c.fail("GET", "/v1/operator/dialogs/"+od+"/replies", a.AccessToken, nil, 403, "forbidden")

	// Content images.
	ct, form := multipartFile("file", "c.png", pngBytes(c.t, 60, 40))
	up := c.req("POST", "/v1/uploads", admin.AccessToken, ct, form, nil, 201).field(c.t, "id").(string)
	img := c.json("POST", "/v1/admin/content/images", admin.AccessToken, map[string]any{"upload_id": up}, 201).field(c.t, "url").(string)
	c.req("GET", img, "", "", nil, nil, 200)
	c.fail("POST", "/v1/admin/content/images", admin.AccessToken, map[string]any{"upload_id": "1"}, 400, "invalid_upload")
	c.fail("POST", "/v1/admin/content/images", a.AccessToken, map[string]any{"upload_id": up}, 403, "forbidden")
}
