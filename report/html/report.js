// Search: every host and port row carries its words in data-s; typing
// hides what does not match all the words. #q=... in the URL searches too.
(function () {
  "use strict";
  var q = document.getElementById("q");
  var count = document.getElementById("count");
  var hosts = Array.prototype.slice.call(document.querySelectorAll("article.host"));
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var shownHosts = 0, shownRows = 0;
    hosts.forEach(function (h) {
      var rows = Array.prototype.slice.call(h.querySelectorAll("tr[data-s]"));
      var hostText = h.getAttribute("data-s") || "";
      var hostMatch = words.every(function (w) { return hostText.indexOf(w) >= 0; });
      var any = false;
      rows.forEach(function (r) {
        var t = r.getAttribute("data-s") || "";
        var ok = words.every(function (w) { return t.indexOf(w) >= 0; });
        r.hidden = !ok;
        if (ok && !r.classList.contains("detail")) { any = true; shownRows++; }
      });
      var show = words.length === 0 || any || (rows.length === 0 && hostMatch);
      h.hidden = !show;
      if (show) { shownHosts++; }
    });
    count.textContent = words.length ? shownHosts + " hosts, " + shownRows + " rows match" : hosts.length + " hosts";
    document.body.setAttribute("data-shown-rows", String(shownRows));
    document.body.setAttribute("data-shown-hosts", String(shownHosts));
  }
  q.addEventListener("input", apply);
  Array.prototype.forEach.call(document.querySelectorAll("button.bar"), function (b) {
    b.addEventListener("click", function () {
      q.value = b.getAttribute("data-q");
      apply();
      q.scrollIntoView({ block: "start" });
    });
  });
  var m = /[#&]q=([^&]*)/.exec(location.hash);
  if (m) { q.value = decodeURIComponent(m[1].replace(/\+/g, " ")); }
  apply();
  document.body.setAttribute("data-ready", "1");
})();
