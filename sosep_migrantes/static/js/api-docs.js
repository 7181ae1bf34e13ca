// The API's browsable documentation: Swagger UI (vendor/swagger-ui, served from here: no CDN) on the
// OpenAPI document of this server. No inline script: the Content-Security-Policy allows none.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: false,
    // Requests "Try it out" sends carry the session cookie; a write then needs the CSRF token, so the
    // documentation is for reading and for token-authenticated calls (Authorize: Bearer).
    withCredentials: false,
  });
})();
