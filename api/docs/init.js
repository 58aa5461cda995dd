// Renders /openapi.yaml. validatorUrl: null keeps the page from calling an
// outside validator: the docs work offline, from the binary alone.
window.ui = SwaggerUIBundle({
  url: "/openapi.yaml",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: false,
});
