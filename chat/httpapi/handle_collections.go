package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// ContentAdmin is the admin API of content collections: definitions with
// their JSON Schemas, and documents with order and publish state.
type ContentAdmin interface {
	DefineCollection(ctx context.Context, p chat.Principal, name, title string, schema json.RawMessage, form bool, tags []string) (chat.Collection, bool, error)
	Collections(ctx context.Context, p chat.Principal) ([]chat.Collection, error)
	CollectionDocuments(ctx context.Context, p chat.Principal, name string) (chat.Collection, []chat.ContentDoc, error)
	PutDocument(ctx context.Context, p chat.Principal, name, id string, in chat.DocumentInput) (chat.ContentDoc, bool, error)
	DeleteDocument(ctx context.Context, p chat.Principal, name, id string) error
	ReorderDocuments(ctx context.Context, p chat.Principal, name string, ids []string) error
}

// Integrations is the platform part of the API: content collections,
// forms, the bot API and webhooks. *chat.Service implements it; a Service
// without it (a handler test's fake) serves none of these routes.
type Integrations interface {
	ContentAdmin
	ContentImages
	Business
	Forms
	Bots
	Webhooks
	Operators
}

// maxSchemaBody fits a collection definition: its schema and title.
const maxSchemaBody = chat.MaxCollectionSchemaLen + 4<<10

// maxDocumentBody fits a document write: its data and two fields.
const maxDocumentBody = chat.MaxContentDocLen + 1<<10

func (s *server) handleCollections(c *gin.Context) error {
	cols, err := s.integ.Collections(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"collections": cols})
	return nil
}

// handleDefineCollection creates or replaces a collection's definition.
func (s *server) handleDefineCollection(c *gin.Context) error {
	var req struct {
		Title  string          `json:"title"`
		Schema json.RawMessage `json:"schema"`
		Form   bool            `json:"form"`
		Tags   []string        `json:"tags"`
	}
	if err := decodeJSON(c, &req, maxSchemaBody); err != nil {
		return err
	}
	col, created, err := s.integ.DefineCollection(c.Request.Context(), principal(c), c.Param("name"), req.Title, req.Schema, req.Form, req.Tags)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, col)
	return nil
}

// handleCollection answers a definition with every document, drafts
// included.
func (s *server) handleCollection(c *gin.Context) error {
	col, docs, err := s.integ.CollectionDocuments(c.Request.Context(), principal(c), c.Param("name"))
	if err != nil {
		return err
	}
	views := make([]chat.ContentDocView, len(docs))
	for i, d := range docs {
		views[i] = d.View()
	}
	c.JSON(http.StatusOK, gin.H{"collection": col, "documents": views})
	return nil
}

// handlePutDocument creates or replaces one document.
func (s *server) handlePutDocument(c *gin.Context) error {
	var req struct {
		Data      json.RawMessage `json:"data"`
		Position  *int            `json:"position"`
		Published *bool           `json:"published"`
	}
	if err := decodeJSON(c, &req, maxDocumentBody); err != nil {
		return err
	}
	if string(req.Data) == "null" {
		req.Data = nil
	}
	d, created, err := s.integ.PutDocument(c.Request.Context(), principal(c), c.Param("name"), c.Param("id"),
		chat.DocumentInput{Data: req.Data, Position: req.Position, Published: req.Published})
	if err != nil {
		if e := chat.ErrorOf(err); e.Path != "" && e.Code == "schema_mismatch" {
			// The body's path: the document is under "data".
			e2 := *e
			e2.Path = "/data" + e.Path
			return &e2
		}
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, d.View())
	return nil
}

func (s *server) handleDeleteDocument(c *gin.Context) error {
	if err := s.integ.DeleteDocument(c.Request.Context(), principal(c), c.Param("name"), c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// handleReorderDocuments orders a collection's documents.
func (s *server) handleReorderDocuments(c *gin.Context) error {
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	if err := s.integ.ReorderDocuments(c.Request.Context(), principal(c), c.Param("name"), req.IDs); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// ContentImages publishes image uploads for content documents.
type ContentImages interface {
	PublishContentImage(ctx context.Context, p chat.Principal, uploadID int64) (chat.ContentImage, error)
}

// handlePublishContentImage answers the public URLs of an image upload.
func (s *server) handlePublishContentImage(c *gin.Context) error {
	var req struct {
		UploadID string `json:"upload_id"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	id, _ := chat.ParseID(req.UploadID) // 0, which is no upload, when malformed
	img, err := s.integ.PublishContentImage(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, img)
	return nil
}
