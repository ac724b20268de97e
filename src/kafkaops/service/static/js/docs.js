// Starts Swagger UI on /docs from the vendored bundle (static/vendor/swagger-ui): no CDN, and
// no inline script, so the page runs under the same Content-Security-Policy as the dashboard.
/* global SwaggerUIBundle */
window.addEventListener('DOMContentLoaded', () => {
  SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null, // the default asks a public validator service about our schema
  });
});
