// The API reference page: Swagger UI on the server's own /openapi.json, with
// "Try it out" calling this same server. Nothing is fetched from elsewhere:
// no validator badge (it would send the document to a public service), no
// remote configuration. The key given to "Authorize" lives in this page's
// memory only, not in storage.
window.ui = SwaggerUIBundle({
  url: new URL("../openapi.json", window.location.href).pathname,
  dom_id: "#api",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  tryItOutEnabled: false,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
