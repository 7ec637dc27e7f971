package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"

	"github.com/korobka/korobka/chat"
)

var _ chat.Unfurler = (*Unfurler)(nil)

// PageTypes are the media types a preview reads pages of, and ImageTypes
// those of their images (what the upload pipeline re-encodes).
var (
	PageTypes  = []string{"text/html"}
	ImageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}
)

// Unfurler reads link previews through a Client: the page (text/html
// only; a long page is read up to the body cap, which holds its head), its
// Open Graph, Twitter Card and <title> tags (golang.org/x/net/html, in the
// page's charset), and the image they name, fetched under the same rules.
type Unfurler struct {
	c *Client
}

// NewUnfurler returns an Unfurler fetching through c.
func NewUnfurler(c *Client) *Unfurler { return &Unfurler{c: c} }

// Unfurl fetches rawURL and what its preview shows. An address the Client
// refuses is an error wrapping chat.ErrLinkRefused; an image that cannot
// be fetched leaves Image nil.
func (u *Unfurler) Unfurl(ctx context.Context, rawURL string) (chat.Unfurled, error) {
	page, err := u.c.Get(ctx, Request{URL: rawURL, Accept: PageTypes, Partial: true})
	if err != nil {
		if errors.Is(err, ErrRefused) || errors.Is(err, ErrURL) {
			return chat.Unfurled{}, fmt.Errorf("%w: %w", chat.ErrLinkRefused, err)
		}
		return chat.Unfurled{}, err
	}
	meta := ParsePage(page.Body, page.Charset)
	out := chat.Unfurled{SiteName: meta.SiteName, Title: meta.Title, Description: meta.Description}
	if out.SiteName == "" {
		out.SiteName = strings.TrimPrefix(page.URL.Hostname(), "www.")
	}
	if meta.Image != "" {
		if ref, err := url.Parse(meta.Image); err == nil {
			img := page.URL.ResolveReference(ref)
			if r, err := u.c.Get(ctx, Request{URL: img.String(), Accept: ImageTypes}); err == nil {
				out.Image = r.Body
			}
		}
	}
	return out, nil
}

// Page is what a page's head says for its preview; Image is the URL as
// written (maybe relative).
type Page struct {
	SiteName, Title, Description, Image string
}

// ParsePage reads the preview tags of an HTML document in the given
// charset ("" for the document's own <meta charset> or UTF-8). Open Graph
// (og:) wins over Twitter Card (twitter:), which wins over <title> and
// <meta name="description">. Reading stops at <body> or </head>.
func ParsePage(body []byte, cs string) Page {
	r, err := charset.NewReader(bytes.NewReader(body), "text/html; charset="+cs)
	if err != nil {
		r = bytes.NewReader(body)
	}
	z := html.NewTokenizer(r)
	z.SetMaxBuf(len(body) + 4096)
	tags := map[string]string{}
	var title strings.Builder
	inTitle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return pick(tags, title.String())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch atom.Lookup(name) {
			case atom.Body:
				return pick(tags, title.String())
			case atom.Title:
				inTitle = title.Len() == 0
			case atom.Meta:
				if !hasAttr {
					continue
				}
				var key, content string
				for {
					k, v, more := z.TagAttr()
					switch string(k) {
					case "property", "name":
						if key == "" {
							key = strings.ToLower(strings.TrimSpace(string(v)))
						}
					case "content":
						content = string(v)
					}
					if !more {
						break
					}
				}
				if key != "" && content != "" {
					if _, seen := tags[key]; !seen {
						tags[key] = content
					}
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Title:
				inTitle = false
			case atom.Head:
				return pick(tags, title.String())
			}
		case html.TextToken:
			if inTitle && title.Len() < 4096 {
				title.Write(z.Text())
			}
		}
	}
}

func pick(tags map[string]string, title string) Page {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(tags[k]); v != "" {
				return v
			}
		}
		return ""
	}
	p := Page{
		SiteName:    first("og:site_name", "application-name"),
		Title:       first("og:title", "twitter:title"),
		Description: first("og:description", "twitter:description", "description"),
		Image:       first("og:image:secure_url", "og:image:url", "og:image", "twitter:image", "twitter:image:src"),
	}
	if p.Title == "" {
		p.Title = strings.TrimSpace(title)
	}
	return p
}
