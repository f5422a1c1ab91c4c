// Loaded first: any later script error or unhandled promise rejection is written into #errors,
// visible to a person and to the headless-browser test, which requires it to stay empty.
'use strict';
(function () {
  function report(text) {
    const box = document.getElementById('errors');
    if (!box) return;
    box.hidden = false;
    box.textContent += text + '\n';
  }
  window.onerror = function (message, source, line, column) {
    report('error: ' + message + ' (' + (source || '?') + ':' + line + ':' + column + ')');
    return false;  // the console still gets it
  };
  window.addEventListener('unhandledrejection', function (event) {
    report('unhandled rejection: ' + (event.reason && event.reason.stack ? event.reason.stack : event.reason));
  });
})();
