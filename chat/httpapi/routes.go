package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the whole HTTP surface on one page. docs/api.md documents each.
func (s *server) routes(e *gin.Engine) {
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.wrap(s.handleReadyz))
	if s.metricsRoute {
		e.GET("/metrics", gin.WrapH(MetricsHandler(s.reg)))
	}
	if s.media != nil {
		e.GET("/media/*path", gin.WrapH(s.media))
		e.HEAD("/media/*path", gin.WrapH(s.media))
	}

	v1 := e.Group("/v1")
	v1.Use(noStore, s.timeZone)
	v1.POST("/auth/otp", s.wrap(s.handleRequestCode))
	v1.POST("/auth/verify", s.wrap(s.handleVerify))
	v1.POST("/auth/refresh", s.wrap(s.handleRefresh))

	authed := v1.Group("", s.authenticate, s.adminGuard) // adminGuard: roles for /v1/admin/
	authed.POST("/auth/logout", s.wrap(s.handleLogout))
	authed.GET("/me", s.wrap(s.handleMe))
	authed.PATCH("/me", s.wrap(s.handleUpdateMe))
	authed.PUT("/me/avatar", s.streamed, s.wrap(s.handleAvatar))
	authed.GET("/users/:id", s.wrap(s.handleUser))
	authed.POST("/contacts/sync", s.wrap(s.handleSyncContacts))
	authed.GET("/contacts", s.wrap(s.handleContacts))
	authed.POST("/dialogs", s.wrap(s.handleOpenDialog))
	authed.GET("/dialogs", s.wrap(s.handleDialogs))
	authed.GET("/dialogs/:id", s.wrap(s.handleDialog))
	authed.GET("/dialogs/:id/messages", s.wrap(s.handleHistory))
	authed.POST("/dialogs/:id/messages", s.wrap(s.handleSend))
	authed.PATCH("/dialogs/:id/messages/:seq", s.wrap(s.handleEdit))
	authed.DELETE("/dialogs/:id/messages/:seq", s.wrap(s.handleDelete))
	authed.POST("/dialogs/:id/read", s.wrap(s.handleRead))
	authed.PUT("/dialogs/:id/mute", s.wrap(s.handleMute))
	authed.PUT("/dialogs/:id/pin", s.wrap(s.handlePin))
	authed.DELETE("/dialogs/:id/pin", s.wrap(s.handleUnpin))
	authed.PATCH("/dialogs/:id", s.wrap(s.handleUpdateGroup))
	authed.GET("/dialogs/:id/members", s.wrap(s.handleMembers))
	authed.POST("/dialogs/:id/members", s.wrap(s.handleAddMembers))
	authed.DELETE("/dialogs/:id/members/:user", s.wrap(s.handleRemoveMember))
	authed.PUT("/dialogs/:id/members/:user/role", s.wrap(s.handleSetRole))
	authed.POST("/dialogs/:id/leave", s.wrap(s.handleLeave))
	authed.GET("/dialogs/:id/messages/:seq/readers", s.wrap(s.handleReaders))
	authed.GET("/dialogs/:id/media", s.wrap(s.handleDialogMedia))
	authed.POST("/devices", s.wrap(s.handleRegisterDevice))
	authed.DELETE("/devices/:token", s.wrap(s.handleUnregisterDevice))
	authed.POST("/uploads", s.streamed, s.wrap(s.handleUpload))

	// The admin API (handle_admin.go): staff roles only, 403 for users.
	s.adminRoutes(authed)

	if s.screens != nil {
		v1.GET("/screens/:name", s.wrap(s.handleScreen))
	}

	// The platform: content collections, forms, the bot API and webhooks
	// (handle_collections.go, handle_forms.go, handle_bot.go,
	// handle_webhooks.go), served by a Service that implements
	// Integrations. Admin routes check the admin role in the Service.
	authed.GET("/admin/collections", s.wrap(s.handleCollections))
	authed.POST("/admin/content/images", s.wrap(s.handlePublishContentImage))
	authed.GET("/admin/collections/:name", s.wrap(s.handleCollection))
	authed.PUT("/admin/collections/:name", s.wrap(s.handleDefineCollection))
	authed.PUT("/admin/collections/:name/order", s.wrap(s.handleReorderDocuments))
	authed.PUT("/admin/collections/:name/documents/:id", s.wrap(s.handlePutDocument))
	authed.DELETE("/admin/collections/:name/documents/:id", s.wrap(s.handleDeleteDocument))
	authed.POST("/business/dialog", s.wrap(s.handleBusinessDialog))
	authed.POST("/forms/:collection", s.wrap(s.handleSubmitForm))
	authed.GET("/admin/forms/:collection/submissions", s.wrap(s.handleFormSubmissions))
	authed.GET("/admin/bot/keys", s.wrap(s.handleAPIKeys))
	authed.POST("/admin/bot/keys", s.wrap(s.handleCreateAPIKey))
	authed.DELETE("/admin/bot/keys/:id", s.wrap(s.handleRevokeAPIKey))
	authed.GET("/admin/webhooks", s.wrap(s.handleWebhooks))
	authed.POST("/admin/webhooks", s.wrap(s.handleCreateWebhook))
	authed.DELETE("/admin/webhooks/:id", s.wrap(s.handleDeleteWebhook))
	authed.GET("/admin/webhooks/:id/deliveries", s.wrap(s.handleWebhookDeliveries))
	authed.GET("/operator/dialogs", s.wrap(s.handleOperatorDialogs))
	authed.GET("/operator/canned", s.wrap(s.handleCannedAnswers))
	authed.PUT("/operator/dialogs/:id/assignee", s.wrap(s.handleAssignDialog))
	authed.GET("/operator/dialogs/:id/messages", s.wrap(s.handleOperatorHistory))
	authed.POST("/operator/dialogs/:id/messages", s.wrap(s.handleOperatorSend))
	authed.POST("/operator/dialogs/:id/canned", s.wrap(s.handleSendCanned))
	authed.GET("/operator/dialogs/:id/replies", s.wrap(s.handleOperatorReplies))
	bot := v1.Group("/bot", s.botAuth) // an API key acts as the business account
	bot.GET("/dialogs", s.wrap(s.handleDialogs))
	bot.GET("/dialogs/:id", s.wrap(s.handleDialog))
	bot.GET("/dialogs/:id/messages", s.wrap(s.handleHistory))
	bot.POST("/dialogs/:id/messages", s.wrap(s.handleSend))
	bot.POST("/users/:id/dialog", s.wrap(s.handleBotOpenDialog))

	// The web shell (assets/web) and the designer preview: static files
	// for browsers, and the preview's API, open in development mode and to
	// admins otherwise (handle_web.go, handle_preview.go, docs/shell.md).
	e.GET("/", s.handleRoot)
	e.GET("/app", s.handleAppRedirect)
	e.GET("/app/*file", s.handleApp)
	e.HEAD("/app/*file", s.handleApp)
	e.GET("/assets/*file", s.handleAsset) // the theme's logo (screens/theme.yaml)
	e.GET("/admin", s.handleAdminRedirect)
	e.GET("/admin/*file", s.handleAdminPage)
	e.HEAD("/admin/*file", s.handleAdminPage)
	if s.preview != nil {
		e.GET("/preview", s.handlePreviewRedirect)
		e.GET("/preview/*file", s.handlePreview)
	}

	// The WebSocket authenticates itself before upgrading (it also takes
	// ?access_token=, which browsers need).
	if s.ws != nil {
		v1.GET("/ws", gin.WrapH(s.ws))
	}
}

// MetricsHandler serves a registry's series in the Prometheus text format,
// for GET /metrics here or on the listener of KOROBKA_METRICS_ADDR.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// noStore keeps API answers, which carry tokens and private data, out of
// shared caches.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
}
