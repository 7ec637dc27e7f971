package renderer

// The catalogue is the one description of every component, prop and action a
// shell must understand. The compiler checks screens against it, and
// schemas/layout.schema.json and schemas/screen.schema.json are generated from
// it (go test ./renderer -run TestSchemasUpToDate -update), so the linter, the
// shells' models and the designers' editor completion cannot drift apart.

import "github.com/korobka/korobka/assets"

// kind says how a prop is written by designers and what shells receive.
type kind int

const (
	kText    kind = iota // designer: literal, "{{ expr }}" interpolation or {t: key, n: expr, args: {}}; shell: string
	kString              // designer: literal or interpolation; shell: string
	kURL                 // like kString; "@logo" names a theme asset
	kNumber              // designer: number or "{{ expr }}"; shell: number
	kBool                // designer: bool or "{{ expr }}"; shell: boolean
	kEnum                // designer: one of enum (literal); shell: string
	kColor               // designer: colour token; shell: "#rrggbb[aa]" for the theme
	kSpacing             // designer: spacing token; shell: number (points)
	kRadius              // designer: radius token; shell: number (points)
	kNode                // a single node
	kAction              // an action
	kFlag                // compile-time only switch, never sent (e.g. linkify)
)

type propSpec struct {
	name string
	kind kind
	enum []string
	out  string // name in the layout when it differs from the YAML key
	doc  string
}

func (p propSpec) outName() string {
	if p.out != "" {
		return p.out
	}
	return p.name
}

type componentSpec struct {
	name     string
	doc      string
	props    []propSpec
	children bool // takes children (or for/item)
	spans    bool // emits "spans" when linkify is set
	// optional components are drawn only by shells that announce them in
	// X-Korobka-Shell; others get the node's fallback or nothing.
	optional bool
}

func (c *componentSpec) prop(name string) (propSpec, bool) {
	for _, p := range c.props {
		if p.name == name {
			return p, true
		}
	}
	return propSpec{}, false
}

var (
	// iconNames is the icon catalogue the shells draw: screens may name
	// no other icon.
	iconNames   = assets.Icons()
	alignEnum   = []string{"start", "center", "end", "stretch"}
	justifyEnum = []string{"start", "center", "end", "space_between"}
)

func boxProps(extra ...propSpec) []propSpec {
	ps := []propSpec{
		{name: "gap", kind: kSpacing, doc: "Space between children, from theme spacing."},
		{name: "padding", kind: kSpacing, doc: "Inner padding on all sides, from theme spacing."},
		{name: "align", kind: kEnum, enum: alignEnum, doc: "Cross-axis alignment of children."},
		{name: "justify", kind: kEnum, enum: justifyEnum, doc: "Main-axis distribution of children."},
		{name: "background", kind: kColor, doc: "Background colour, from theme colours."},
	}
	return append(ps, extra...)
}

// catalog lists components in a fixed order: the order is part of the
// capability fingerprint that goes into ETags.
var catalog = []componentSpec{
	{name: "column", doc: "Lays children out top to bottom.", children: true, props: boxProps()},
	{name: "row", doc: "Lays children out left to right (start to end).", children: true, props: boxProps()},
	{name: "stack", doc: "Draws children on top of each other, first at the bottom.", children: true, props: boxProps()},
	{name: "scroll", doc: "A scrollable container.", children: true, props: boxProps(
		propSpec{name: "axis", kind: kEnum, enum: []string{"vertical", "horizontal"}, doc: "Scroll direction; vertical by default."},
	)},
	{name: "list", doc: "A lazily drawn list; patches insert into and remove from it by id.", children: true, props: []propSpec{
		{name: "empty", kind: kNode, doc: "Drawn instead of the children while the list has none."},
		{name: "on_end", out: "next", kind: kAction, doc: "Run when the user scrolls to the end; absent when there is nothing more."},
		{name: "reverse", kind: kBool, doc: "Anchor to the bottom and grow upwards (chat history)."},
		{name: "separator", kind: kBool, doc: "Draw a divider between items."},
		{name: "gap", kind: kSpacing, doc: "Space between items."},
		{name: "padding", kind: kSpacing, doc: "Inner padding."},
		{name: "unread", kind: kNumber, doc: "In a chat's history: how many of the newest messages the viewer had not read when the screen was rendered. The shell draws its unread separator above the first of them (the newest that many bubbles of other people, deleted ones aside) and opens the list there."},
		{name: "unread_label", kind: kText, doc: "The words of the unread separator, already localised (\"Unread messages\")."},
	}},
	{name: "text", doc: "A run of text; with spans, parts of it are tappable.", spans: true, props: []propSpec{
		{name: "text", kind: kText, doc: "The text, already localised."},
		{name: "linkify", kind: kFlag, doc: "Designer switch: turn URLs, e-mail addresses and phone numbers into spans."},
		{name: "max_lines", kind: kNumber, doc: "Truncate after this many lines; 0 or absent means no limit."},
		{name: "align", kind: kEnum, enum: []string{"start", "center", "end"}, doc: "Horizontal alignment."},
		{name: "color", kind: kColor, doc: "Overrides the style's colour."},
	}},
	{name: "image", doc: "A remote or bundled image.", props: []propSpec{
		{name: "src", kind: kURL, doc: "Image URL."},
		{name: "alt", kind: kText, doc: "Accessibility description."},
		{name: "aspect", kind: kNumber, doc: "Width divided by height."},
		{name: "fit", kind: kEnum, enum: []string{"cover", "contain"}, doc: "How the image fills its box."},
		{name: "radius", kind: kRadius, doc: "Corner radius."},
		{name: "width", kind: kNumber, doc: "Width in points (at most the available width); absent: the available width. With aspect, the box has its size before the image loads. Designers may write \"@logo\": the theme's logo size."},
	}},
	{name: "avatar", doc: "A round picture of a person or a group; initials when there is no picture.", props: []propSpec{
		{name: "src", kind: kURL, doc: "Picture URL; empty means draw the initials."},
		{name: "initials", kind: kText, doc: "One or two letters; may be a string key (the initial of a localised \"Unknown\")."},
		{name: "size", kind: kEnum, enum: []string{"s", "m", "l", "xl"}, doc: "Diameter class."},
	}},
	{name: "icon", doc: "A glyph from the shell's icon set.", props: []propSpec{
		{name: "name", kind: kEnum, enum: iconNames, doc: "Icon name from the icon catalogue (assets/web/icons)."},
		{name: "color", kind: kColor, doc: "Icon colour."},
		{name: "size", kind: kNumber, doc: "Size in points."},
	}},
	{name: "button", doc: "A tappable button.", props: []propSpec{
		{name: "label", kind: kText, doc: "Button text."},
		{name: "kind", kind: kEnum, enum: []string{"primary", "secondary", "plain", "destructive"}, doc: "Visual weight."},
		{name: "icon", kind: kEnum, enum: iconNames, doc: "Optional icon before the label, from the icon catalogue (assets/web/icons)."},
		{name: "disabled", kind: kBool, doc: "Drawn but not tappable."},
	}},
	{name: "input", doc: "A form field; a submit action sends the values of the screen's inputs by name.", props: []propSpec{
		{name: "name", kind: kString, doc: "Field name in the submitted body."},
		{name: "kind", kind: kEnum, enum: []string{"text", "phone", "code", "multiline"}, doc: "Keyboard and formatting."},
		{name: "label", kind: kText, doc: "Label above the field."},
		{name: "placeholder", kind: kText, doc: "Hint inside the empty field."},
		{name: "value", kind: kString, doc: "Initial value."},
		{name: "max_length", kind: kNumber, doc: "Maximum number of characters."},
		{name: "autofocus", kind: kBool, doc: "Focus when the screen opens."},
	}},
	{name: "composer", doc: "The message entry bar of a chat: text, attach, send.", optional: true, props: []propSpec{
		{name: "dialog_id", kind: kString, doc: "Dialog the message goes to."},
		{name: "placeholder", kind: kText, doc: "Hint inside the empty field."},
		{name: "attach", kind: kBool, doc: "Offer the attach button."},
	}},
	{name: "message_bubble", doc: "One chat message with time and delivery ticks.", spans: true, children: true, props: []propSpec{
		{name: "text", kind: kText, doc: "Message text, shown literally."},
		{name: "linkify", kind: kFlag, doc: "Designer switch: make links, e-mails and phones tappable."},
		{name: "own", kind: kBool, doc: "Sent by the viewer: drawn on the end side with ticks."},
		{name: "sender", kind: kString, doc: "Sender name, shown in groups for other people's messages."},
		{name: "sender_avatar", kind: kURL, doc: "The sender's photo (a thumb), drawn in a circle of a fixed size (28 points) beside others' bubbles in groups; empty: sender_initials on a colour."},
		{name: "sender_initials", kind: kText, doc: "One or two letters drawn beside others' bubbles in groups when there is no photo (or it fails to load); the shell draws the avatar and the name on the first bubble of a run only."},
		{name: "time", kind: kString, doc: "Time of sending, already formatted."},
		{name: "status", kind: kEnum, enum: []string{"sent", "delivered", "read"}, doc: "Ticks: one, two, two coloured."},
		{name: "edited", kind: kBool, doc: "Show an edited mark."},
		{name: "deleted", kind: kBool, doc: "Draw as a deleted message."},
		{name: "day", kind: kString, doc: "The message's day as the reader names it (\"Today\", \"12 November\"); one label per day, so the shell draws a date separator above a bubble whose day differs from the bubble before it."},
		{name: "sender_id", kind: kString, doc: "The sender's user id: consecutive bubbles of one sender within a few minutes are drawn as a group."},
		{name: "sent_at", kind: kString, doc: "Time of sending, RFC 3339 UTC (for grouping)."},
	}},
	{name: "badge", doc: "A small counter or label.", props: []propSpec{
		{name: "text", kind: kText, doc: "Badge text."},
		{name: "tone", kind: kEnum, enum: []string{"accent", "muted", "danger"}, doc: "Colour role."},
	}},
	{name: "divider", doc: "A thin line.", props: []propSpec{
		{name: "inset", kind: kSpacing, doc: "Start inset."},
	}},
	{name: "spacer", doc: "Empty space; without a size it takes what is left.", props: []propSpec{
		{name: "size", kind: kSpacing, doc: "Fixed size."},
	}},
	{name: "card", doc: "A raised, rounded box.", children: true, props: boxProps(
		propSpec{name: "radius", kind: kRadius, doc: "Corner radius."},
	)},
	{name: "nav_bar", doc: "The bar at the top of a screen; children are trailing items.", children: true, props: []propSpec{
		{name: "title", kind: kText, doc: "Title."},
		{name: "subtitle", kind: kText, doc: "Second line."},
		{name: "back", kind: kBool, doc: "Show a back button."},
		{name: "avatar", kind: kURL, doc: "Picture beside the title."},
		{name: "initials", kind: kText, doc: "Letters drawn in a circle beside the title when there is no picture (or it fails to load)."},
	}},
	{name: "tabs", doc: "A tab bar; children are tab nodes.", optional: true, children: true, props: []propSpec{}},
	{name: "tab", doc: "One tab of a tab bar.", props: []propSpec{
		{name: "label", kind: kText, doc: "Tab text."},
		{name: "icon", kind: kEnum, enum: iconNames, doc: "Icon from the icon catalogue (assets/web/icons)."},
		{name: "selected", kind: kBool, doc: "The current tab."},
	}},
	{name: "video", doc: "A video player.", optional: true, props: []propSpec{
		{name: "src", kind: kURL, doc: "Video URL (HLS or MP4)."},
		{name: "poster", kind: kURL, doc: "Still shown before playing."},
		{name: "autoplay", kind: kBool, doc: "Start muted when visible."},
		{name: "aspect", kind: kNumber, doc: "Width divided by height."},
	}},
	{name: "file", doc: "An attached file.", optional: true, props: []propSpec{
		{name: "name", kind: kString, doc: "File name."},
		{name: "size", kind: kString, doc: "Human-readable size."},
		{name: "url", kind: kURL, doc: "Download URL."},
		{name: "mime", kind: kString, doc: "Media type."},
	}},
	{name: "web", doc: "An embedded web page.", optional: true, props: []propSpec{
		{name: "url", kind: kURL, doc: "Page URL."},
		{name: "height", kind: kNumber, doc: "Height in points."},
	}},
	{name: "check", doc: "A tick box, as on the rows of a checkable list; a submit action sends, under its name, the list (JSON array of strings) of the values of the screen's ticked checks of that name, [] when none is ticked. Shells that do not announce it get nothing there (new_group then creates a group of the viewer alone; members are added on group_info).", optional: true, props: []propSpec{
		{name: "name", kind: kString, doc: "Field name in the submitted body (an array)."},
		{name: "value", kind: kString, doc: "What a ticked box adds to the array (an id)."},
		{name: "checked", kind: kBool, doc: "Ticked when the screen opens."},
		{name: "label", kind: kText, doc: "Accessible name (the row's text, such as a person's name)."},
	}},
}

type actionSpec struct {
	name  string
	doc   string
	props []propSpec
	// dropWhenEmpty: the action is left out when this prop is empty
	// (load_more without a cursor means there is nothing more).
	dropWhenEmpty string
}

// kParams and kFields are action-only kinds.
const (
	kParams kind = 100 + iota // map of string templates
	kFields                   // list of literal strings
)

var actions = []actionSpec{
	{name: "navigate", doc: "Open another screen.", props: []propSpec{
		{name: "screen", kind: kEnum, doc: "Screen name (checked by the linter)."},
		{name: "params", kind: kParams, doc: "Screen parameters, all strings."},
		{name: "replace", kind: kBool, doc: "Replace the current screen instead of pushing."},
	}},
	{name: "back", doc: "Go back one screen."},
	{name: "open_url", doc: "Open a URL (http, https, mailto) outside the app.", props: []propSpec{
		{name: "url", kind: kURL, doc: "The URL."},
	}},
	{name: "submit", doc: "Send the screen's inputs as a JSON object to an API endpoint, then run then.", props: []propSpec{
		{name: "endpoint", kind: kString, doc: "Path under /v1/."},
		{name: "method", kind: kEnum, enum: []string{"POST", "PATCH", "PUT", "DELETE"}, doc: "HTTP method; POST by default (DELETE sends the same body, which the routes it is used on ignore)."},
		{name: "fields", kind: kFields, doc: "Input names to send; all inputs when absent."},
		{name: "extra", kind: kParams, doc: "Fixed fields added to the body."},
		{name: "then", kind: kAction, doc: "Run after a 2xx answer."},
	}},
	{name: "send_message", doc: "Send the composer's text to a dialog.", props: []propSpec{
		{name: "dialog_id", kind: kString, doc: "Dialog id."},
	}},
	{name: "pick_media", doc: "Let the user pick a photo, video or file and upload it.", props: []propSpec{
		{name: "kind", kind: kEnum, enum: []string{"image", "video", "file", "any"}, doc: "What may be picked."},
		{name: "dialog_id", kind: kString, doc: "Dialog to attach to, if any."},
		{name: "endpoint", kind: kString, doc: "Upload endpoint; /v1/uploads by default."},
		{name: "field", kind: kString, doc: "Without dialog_id and endpoint: upload to /v1/uploads and keep the upload's id as the screen's field of this name, which a later submit sends like an input (a new group's avatar_upload_id)."},
	}},
	{name: "load_more", doc: "Fetch the next page of a list.", dropWhenEmpty: "cursor", props: []propSpec{
		{name: "source", kind: kString, doc: "The screen data name being paged."},
		{name: "cursor", kind: kString, doc: "Opaque cursor from the previous page."},
	}},
	{name: "refresh", doc: "Fetch the screen again."},
	{name: "call", doc: "Start a phone call.", props: []propSpec{
		{name: "phone", kind: kString, doc: "Phone number, E.164 when known."},
	}},
}

func lookupComponent(name string) (*componentSpec, int) {
	for i := range catalog {
		if catalog[i].name == name {
			return &catalog[i], i
		}
	}
	return nil, -1
}

func lookupAction(name string) *actionSpec {
	for i := range actions {
		if actions[i].name == name {
			return &actions[i]
		}
	}
	return nil
}

// nodeKeys are the keys every node may carry besides its component's props.
var nodeKeys = []string{"type", "id", "style", "if", "for", "item", "children", "use", "with", "action", "fallback"}
