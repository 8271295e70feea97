// Runs first: any script error of the page is kept in window.stewardErrors and shown in the
// page's error box, so that a broken view says so instead of going blank.
(function () {
  "use strict";
  window.stewardErrors = [];
  function note(message) {
    window.stewardErrors.push(message);
    var box = document.getElementById("errors");
    if (box) {
      box.hidden = false;
      box.appendChild(document.createTextNode(message + "\n"));
    }
  }
  window.addEventListener("error", function (event) {
    note("script error: " + event.message + " (" + event.filename + ":" + event.lineno + ")");
  });
  window.addEventListener("unhandledrejection", function (event) {
    note("script error: " + event.reason);
  });
})();
