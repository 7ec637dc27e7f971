package chat

import (
	"context"
	"encoding/json"
	"strings"
)

// SubjectCard is the document a dialog's subject names, as the chat shows
// it on top: a marketplace listing or a news post the dialog is about.
type SubjectCard struct {
	Type       string          `json:"type"` // the subject's prefix: "listing", "news"
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	Data       json.RawMessage `json:"data"` // the published document
}

// SubjectCollections maps a subject's prefix to the collection its id is
// a document of: "listing:<id>" is catalogue item <id>.
var SubjectCollections = map[string]string{
	"listing": "catalogue",
	"news":    "news",
}

// subjectCards resolves the subjects of a page of dialogs to their cards,
// one read per distinct subject (a page is bounded, MaxPage). A subject
// that names nothing published has no card; failures are logged and cost
// only the card.
func (s *Service) subjectCards(ctx context.Context, entries []DialogEntry) map[string]*SubjectCard {
	var cards map[string]*SubjectCard
	for _, e := range entries {
		subj := e.Dialog.Subject
		if subj == "" {
			continue
		}
		if _, done := cards[subj]; done {
			continue
		}
		if cards == nil {
			cards = map[string]*SubjectCard{}
		}
		cards[subj] = nil
		kind, id, ok := strings.Cut(subj, ":")
		col := SubjectCollections[kind]
		if !ok || col == "" {
			continue
		}
		d, err := s.store.ContentDoc(ctx, col, id)
		if err != nil {
			if ErrorOf(err).Kind != KindNotFound {
				s.log.WarnContext(ctx, "subject card", "subject", subj, "err", err)
			}
			continue
		}
		if !d.Published {
			continue
		}
		cards[subj] = &SubjectCard{Type: kind, ID: id, Collection: col, Data: d.Data}
	}
	return cards
}
