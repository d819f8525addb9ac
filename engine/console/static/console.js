// ocsfmap console: small progressive enhancements. Every page works
// without this file; it adds copy buttons, live scope diagnostics, the
// integrations list refreshing itself, and confirmations.
"use strict";
(function () {
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  // Copy buttons: data-copy names the input whose value to copy.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var input = document.getElementById(b.dataset.copy);
      if (!input) return;
      var done = function () {
        b.textContent = "Copied";
        b.classList.add("copied");
        setTimeout(function () { b.textContent = "Copy"; b.classList.remove("copied"); }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* selected: Ctrl+C */ }
      }
    });
  });

  // A notice in the address (?added=, ?done=) is shown once, not on every reload.
  if (document.querySelector("main .flash") && window.history.replaceState && window.location.search) {
    window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  }

  // Buttons that ask first.
  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      if (!window.confirm(b.dataset.confirm)) e.preventDefault();
    });
  });

  // The integrations list refreshes itself.
  var table = document.querySelector("table[data-refresh]");
  if (table) {
    var tbody = table.querySelector("tbody");
    var note = document.getElementById("refreshed");
    setInterval(function () {
      fetch(table.dataset.refresh, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          // Keep the focus on the link it was on (by its href).
          var active = document.activeElement && tbody.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
          tbody.innerHTML = html;
          if (active) { var again = tbody.querySelector('a[href="' + CSS.escape(active) + '"]'); if (again) again.focus(); }
          if (note) note.textContent = "Refreshed " + new Date().toLocaleTimeString() + "; every 3 seconds.";
        })
        .catch(function () {});
    }, 3000);
  }

  // The scope of a rule is compiled as it is typed.
  var scope = document.querySelector("textarea[data-check]");
  if (scope) {
    var out = document.getElementById("scope-diag");
    var timer = null, seq = 0;
    var check = function () {
      var mine = ++seq;
      fetch(scope.dataset.check, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "X-Requested-With": "fetch" },
        body: JSON.stringify({
          integration: scope.dataset.integration, scope: scope.value,
          index: parseInt(scope.dataset.index || "-1", 10),
          name: (document.getElementById("rule_name") || {}).value || "",
          enabled: !!(document.getElementById("enabled") || {}).checked
        })
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        if (!d || mine !== seq) return;
        out.textContent = "";
        if (d.ok) {
          var p = document.createElement("p");
          p.className = "ok";
          p.textContent = "Compiles." + (d.recent ? " Of the last " + d.recent + " alerts received, this scope holds for " + d.matches + (d.errors ? " (" + d.errors + " fail to evaluate)" : "") + "." : "");
          out.appendChild(p);
          scope.removeAttribute("aria-invalid");
          showDraft(d.preview);
        } else {
          var head = document.createElement("p");
          head.className = "field-error";
          head.textContent = "Line " + d.line + ", column " + d.column + ": " + d.message + (d.suggest && d.suggest.length ? " (did you mean " + d.suggest.join(", ") + "?)" : "");
          out.appendChild(head);
          if (d.caret) { var pre = document.createElement("pre"); pre.textContent = d.caret; out.appendChild(pre); }
          scope.setAttribute("aria-invalid", "true");
          showDraft(null);
        }
      }).catch(function () {});
    };
    // The preview table gets a column: what the rules export with this draft saved.
    var showDraft = function (preview) {
      var cells = document.querySelectorAll("table.preview .draft");
      cells.forEach(function (c) { c.hidden = !preview; });
      if (!preview) return;
      var rows = document.querySelectorAll("table.preview tbody tr");
      rows.forEach(function (tr, i) {
        var cell = tr.querySelector("td.draft");
        if (!cell || i >= preview.length) return;
        cell.textContent = "";
        var b = document.createElement("span");
        b.className = "badge " + (preview[i] ? "success" : "pending");
        b.textContent = preview[i] || "filtered";
        cell.appendChild(b);
      });
    };
    scope.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 250); });
    ["rule_name", "enabled"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(check, 250); });
    });
    if (scope.value) check();
  }

  // Picking a recent alert in the playground fills the alert box.
  var pick = document.getElementById("pick");
  var alertBox = document.getElementById("alert");
  if (pick && alertBox) {
    pick.addEventListener("change", function () {
      var opt = pick.options[pick.selectedIndex];
      if (opt && opt.dataset.alert) {
        try { alertBox.value = JSON.stringify(JSON.parse(opt.dataset.alert), null, 2); } catch (e) { alertBox.value = opt.dataset.alert; }
      }
    });
  }

  // After Test Connection, bring its result into view and to the screen reader.
  var result = document.getElementById("check-result");
  if (result) { result.scrollIntoView({ block: "center" }); }
})();
