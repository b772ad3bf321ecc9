// Onboard's console forms, made live. Without this script the forms still work:
// they post as plain HTML forms. With it: the plan (or the offboarding preview)
// updates as you type, the licenses follow the organization, and the user and
// group inputs suggest matches from the tenant.
(function () {
  "use strict";
  if (!window.fetch) return;

  function debounce(fn, ms) {
    var timer;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function list(items) {
    var ul = el("ul");
    items.forEach(function (item) { ul.appendChild(el("li", item)); });
    return ul;
  }

  function splitList(text) {
    return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // The form as the API's JSON body: blank fields left out, lists split on commas,
  // checked license boxes and typed licenses in one list.
  function formJson(form, listFields) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      var name = input.name;
      if (!name || name === "csrf_token" || input.type === "submit") return;
      if (input.type === "checkbox" && !input.checked) return;
      if (name.indexOf("action.") === 0) {
        if (input.value === "") return;
        body.actions = body.actions || {};
        body.actions[name.slice(7)] = input.value === "true" || input.value === "1";
        return;
      }
      var value = input.value.trim();
      if (listFields.indexOf(name) >= 0) {
        body[name] = (body[name] || []).concat(splitList(value));
        if (!body[name].length) delete body[name];
      } else if (value !== "") {
        body[name] = value;
      }
    });
    return body;
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().then(function (json) { return { status: res.status, body: json }; });
    });
  }

  function showProblem(target, answer) {
    target.replaceChildren();
    if (answer.status === 400 && answer.body.errors) {
      target.appendChild(el("p", "Not yet a valid request:"));
      target.appendChild(list(answer.body.errors.map(function (e) { return e.field + ": " + e.message; })));
    } else {
      target.appendChild(el("p", "The plan cannot be made now (" + (answer.body.title || answer.status) + ").", "err"));
    }
  }

  var ACTIONS = {
    assign: "assign a free seat",
    group: "give through the license group",
    purchase: "buy through the distributor",
    manual_purchase: "ask a technician to buy",
  };

  function renderPlan(target, plan) {
    target.replaceChildren();
    var dl = el("dl");
    function row(term, value) {
      dl.appendChild(el("dt", term));
      var dd = el("dd");
      if (typeof value === "string") dd.textContent = value; else dd.appendChild(value);
      dl.appendChild(dd);
    }
    row("Username", plan.user_principal_name || "none free (see the warnings)");
    row("Approval", plan.approval_required ? "needed before anything is created" : "not needed");
    row("Start", plan.scheduled_for ? "waits until " + new Date(plan.scheduled_for).toLocaleString() : "at once");
    row("Licenses", plan.licenses.length ? list(plan.licenses.map(function (l) {
      var seats = l.free_seats === null ? "not in the tenant" : l.free_seats + " free";
      return l.sku + " (" + seats + "): " + (ACTIONS[l.action] || l.action) + (l.group ? " (" + l.group + ")" : "");
    })) : "none");
    row("Groups", plan.groups.length ? list(plan.groups.map(function (g) {
      if (!g.found) return g.name + ": not found";
      return g.name + (g.exchange ? ": found; added through Exchange Online once the mailbox exists" : ": found");
    })) : "none");
    if (plan.shared_mailboxes && plan.shared_mailboxes.length) {
      row("Shared mailboxes", plan.shared_mailboxes.join(", ") + ": FullAccess and SendAs, once the mailbox exists");
    }
    if (plan.copied_groups) row("Copied groups", plan.copied_groups.length ? plan.copied_groups.join(", ") : "none");
    if (plan.mfa) row("MFA", plan.mfa.replace(/^MFA: /, ""));
    target.appendChild(dl);
    if (plan.warnings.length) {
      target.appendChild(el("h3", "Warnings"));
      var w = list(plan.warnings);
      w.className = "warn";
      target.appendChild(w);
    }
  }

  function renderPreview(target, preview) {
    target.replaceChildren();
    if (!preview.found) {
      target.appendChild(el("p", "No user " + preview.user_principal_name + " in this tenant.", "err"));
    }
    var dl = el("dl");
    function row(term, items) {
      dl.appendChild(el("dt", term));
      var dd = el("dd");
      if (items.length) dd.appendChild(list(items)); else dd.textContent = "nothing";
      dl.appendChild(dd);
    }
    if (preview.found) {
      row("Groups removed", preview.groups);
      row("Groups kept", preview.groups_kept);
      row("Licenses removed", preview.licenses);
      row("Sign-in methods removed", preview.authentication_methods);
    }
    row("Actions", preview.actions);
    target.appendChild(dl);
    target.appendChild(el("p", preview.approval_required ? "An approver must approve first." : "No approval needed."));
    if (preview.warnings.length) {
      target.appendChild(el("h3", "Warnings"));
      target.appendChild(list(preview.warnings));
    }
  }

  // Asks `url` with the form's body whenever the form changes; the newest answer wins.
  function livePanel(form, url, target, listFields, render) {
    var asked = 0;
    var update = debounce(function () {
      var mine = ++asked;
      postJson(url, formJson(form, listFields)).then(function (answer) {
        if (mine !== asked) return;
        if (answer.status === 200) render(target, answer.body); else showProblem(target, answer);
        form.dispatchEvent(new CustomEvent("planned"));
      }).catch(function () {
        if (mine === asked) target.replaceChildren(el("p", "The plan cannot be made now.", "err"));
      });
    }, 250);
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  function organizationOf(form) {
    var select = form.querySelector("[name=organization]");
    return select ? select.value : "";
  }

  // Fills the datalist of `input` with matches from the tenant as you type.
  function searchable(form, input, onPick) {
    var kind = input.getAttribute("data-search");
    var datalist = document.getElementById(input.getAttribute("list"));
    if (!kind || !datalist) return;
    var asked = 0;
    var search = debounce(function () {
      var text = input.value.trim();
      var org = organizationOf(form);
      if (!org || text.length < 1) return;
      var mine = ++asked;
      fetch("/api/organizations/" + encodeURIComponent(org) + "/" + kind + "?search=" + encodeURIComponent(text), {
        headers: { "Accept": "application/json" },
      }).then(function (res) { return res.ok ? res.json() : []; }).then(function (found) {
        if (mine !== asked) return;
        datalist.replaceChildren();
        found.forEach(function (item) {
          var option = document.createElement("option");
          option.value = item.userPrincipalName || item.displayName;
          option.label = item.userPrincipalName ? item.displayName + " (" + item.userPrincipalName + ")" : item.displayName;
          option.textContent = option.label;
          datalist.appendChild(option);
        });
      }).catch(function () {});
    }, 200);
    input.addEventListener("input", function () {
      if (onPick) {
        var picked = Array.prototype.some.call(datalist.options, function (o) { return o.value === input.value; });
        if (picked) { onPick(input.value); return; }
      }
      search();
    });
  }

  function licenseBox(license, checked) {
    var label = el("label", null, "check");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = "licenses";
    box.value = license.sku;
    box.checked = checked;
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + license.name + " "));
    label.appendChild(el("span", "(" + license.free_seats + " free)", "seats"));
    return label;
  }

  function onboardingForm(form) {
    var options = document.getElementById("license-options");
    var orgSelect = form.querySelector("[name=organization]");
    if (orgSelect && options) {
      orgSelect.addEventListener("change", function () {
        fetch("/api/organizations/" + encodeURIComponent(orgSelect.value) + "/licenses", {
          headers: { "Accept": "application/json" },
        }).then(function (res) { return res.ok ? res.json() : []; }).then(function (licenses) {
          // Read when the answer comes: a box ticked while it was on its way stays ticked.
          var checked = Array.prototype.filter.call(options.querySelectorAll("input:checked"), Boolean)
            .map(function (b) { return b.value; });
          options.replaceChildren();
          licenses.forEach(function (l) { options.appendChild(licenseBox(l, checked.indexOf(l.sku) >= 0)); });
          form.dispatchEvent(new Event("change"));
        }).catch(function () {});
      });
    }
    // The templates follow the organization too.
    var templateSelect = form.querySelector("select[name=template]");
    if (orgSelect && templateSelect) {
      orgSelect.addEventListener("change", function () {
        fetch("/api/organizations/" + encodeURIComponent(orgSelect.value) + "/templates", {
          headers: { "Accept": "application/json" },
        }).then(function (res) { return res.ok ? res.json() : []; }).then(function (templates) {
          // Read when the answer comes, as for the licenses: a template chosen meanwhile stays chosen.
          var chosen = templateSelect.value;
          var none = el("option", "none");
          none.value = "";
          templateSelect.replaceChildren(none);
          templates.forEach(function (t) {
            var option = el("option", t.name);
            option.value = t.name;
            option.selected = t.name === chosen;
            templateSelect.appendChild(option);
          });
          form.dispatchEvent(new Event("change"));
        }).catch(function () {});
      });
    }
    Array.prototype.forEach.call(form.querySelectorAll("input[data-search=users]"), function (input) {
      searchable(form, input);
    });
    var groupSearch = document.getElementById("group-search");
    var groups = document.getElementById("groups");
    if (groupSearch && groups) {
      searchable(form, groupSearch, function (name) {
        var current = splitList(groups.value);
        if (current.indexOf(name) < 0) current.push(name);
        groups.value = current.join(", ");
        groupSearch.value = "";
        groups.dispatchEvent(new Event("input", { bubbles: true }));
      });
    }
    var panel = document.getElementById("plan-body");
    if (panel) livePanel(form, form.getAttribute("data-plan"), panel, ["licenses", "groups", "shared_mailboxes"], renderPlan);
  }

  function offboardingForm(form) {
    Array.prototype.forEach.call(form.querySelectorAll("input[data-search=users]"), function (input) {
      searchable(form, input);
    });
    var panel = document.getElementById("preview-body");
    if (panel) livePanel(form, form.getAttribute("data-plan"), panel, [], renderPreview);
  }

  var onboarding = document.getElementById("onboarding-form");
  if (onboarding) onboardingForm(onboarding);
  var offboarding = document.getElementById("offboarding-form");
  if (offboarding) offboardingForm(offboarding);

  // The batch page: a chosen file's text goes into the rows the form sends.
  var csvFile = document.getElementById("csv-file");
  var csvText = document.getElementById("csv");
  if (csvFile && csvText) {
    csvFile.addEventListener("change", function () {
      var file = csvFile.files && csvFile.files[0];
      if (!file) return;
      file.text().then(function (text) {
        csvText.value = text;
        csvText.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
  }
})();
