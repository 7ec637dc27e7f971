package renderer

import (
	"context"
	"encoding/json"
	"io"
	"testing"
)

// The chat window with the 50-message fixture (chat.json).

func BenchmarkRenderChat50(b *testing.B) {
	e := loadShipped(b)
	f := fixture(b, "chat")
	p, req := f.Provider(), f.Request("chat", "ru", "light")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Render(ctx, req, p, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalChat50 is the yardstick: encoding/json marshalling the
// same finished layout, decoded into map[string]any.
func BenchmarkMarshalChat50(b *testing.B) {
	e := loadShipped(b)
	f := fixture(b, "chat")
	out, _, err := e.AppendRender(context.Background(), nil, f.Request("chat", "ru", "light"), f.Provider())
	if err != nil {
		b.Fatal(err)
	}
	var layout any
	if err := json.Unmarshal(out, &layout); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(layout); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkETagChat50(b *testing.B) {
	e := loadShipped(b)
	f := fixture(b, "chat")
	p, req := f.Provider(), f.Request("chat", "ru", "light")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.ETag(ctx, req, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFragmentMessage(b *testing.B) {
	e := loadShipped(b)
	msg := fixture(b, "chat").Data["messages"].(map[string]any)["messages"].([]any)[1]
	vars := map[string]any{"m": msg, "own": false}
	v := Variant{Langs: []string{"ru"}, Theme: "dark"}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = e.AppendFragment(buf[:0], "message_bubble", vars, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadShipped(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		loadShipped(b)
	}
}
