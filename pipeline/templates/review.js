(function () {
  "use strict";
  var body = document.body;
  var token = body.getAttribute("data-token");
  var config = JSON.parse(body.getAttribute("data-config"));
  var state = { items: [], index: 0, detail: null, selected: null, author: "" };
  var targetLabels = {};
  config.targets.forEach(function (t) { targetLabels[t.id] = t.label; });

  function api(path, payload) {
    var options = { headers: { "X-Review-Token": token } };
    if (payload) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return fetch(path, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || response.statusText); }
        return data;
      });
    });
  }

  // Every text from the corpus goes on the page through textContent, never as markup.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "cls") { node.className = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function badge(stance) {
    var node = el("span", { cls: "badge", text: stance, "data-stance": stance });
    node.style.setProperty("--c", config.colours[stance] || "#999999");
    return node;
  }

  function say(text, isError) {
    var status = document.getElementById("status");
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function page(p) { return p ? "p. " + p : "no page"; }

  function renderQueue() {
    var list = document.getElementById("queue");
    list.textContent = "";
    state.items.forEach(function (item, i) {
      var button = el("button", { type: "button", "data-id": item.id }, [
        el("span", { cls: "who", text: item.holder }),
        document.createTextNode(" → " + (targetLabels[item.target] || item.target) + " "),
        badge(item.stance), document.createTextNode(" "),
        el("span", { cls: "review " + item.review, text: item.review }),
        item.needs_review ? el("span", { cls: "flag", text: " needs review" }) : null
      ]);
      button.addEventListener("click", function () { show(i); });
      list.appendChild(el("li", { cls: i === state.index ? "current" : "", "data-id": item.id },
                          [button]));
    });
    var done = state.items.filter(function (x) { return x.review !== "machine"; }).length;
    document.getElementById("progress").textContent =
      "(" + done + " of " + state.items.length + " reviewed)";
  }

  function options(select, values, labels, chosen) {
    values.forEach(function (value) {
      var option = el("option", { value: value, text: labels ? labels[value] || value : value });
      if (value === chosen) { option.selected = true; }
      select.appendChild(option);
    });
    return select;
  }

  function sentenceList(sentences) {
    var list = el("ol", { cls: "context", id: "context" });
    sentences.forEach(function (s) {
      var cls = (s.is_evidence ? "evidence" : "") +
        (state.selected && state.selected.sentence_id === s.sentence_id ? " selected" : "");
      var button = el("button", { type: "button", title: "Select as the evidence of a missed position",
                                  "data-sentence-id": s.sentence_id },
                      [document.createTextNode(s.text + " "), el("small", { text: "(" + page(s.page) + ")" })]);
      button.addEventListener("click", function () { select(s); });
      list.appendChild(el("li", { cls: cls.trim(), "data-sentence-id": s.sentence_id }, [button]));
    });
    return list;
  }

  function renderItem() {
    var d = state.detail;
    var box = document.getElementById("item");
    box.textContent = "";
    if (!d) { box.appendChild(el("p", { cls: "note", text: "No positions to review." })); return; }
    state.author = d.author || "";
    box.appendChild(el("h2", { id: "item-title" }, [
      el("span", { id: "item-holder", text: d.holder }),
      document.createTextNode(" → " + d.target_label + " "), badge(d.stance), document.createTextNode(" "),
      el("span", { cls: "review " + d.review, id: "item-review", text: d.review })
    ]));
    box.appendChild(el("p", { cls: "meta", text: d.document + " · " + d.source_path + " · " + page(d.page) +
      " · confidence " + d.confidence + (d.holder_is_author ? " · the document's author" : " · cited by the document") +
      (d.needs_review ? " · flagged for review" : "") }));
    box.appendChild(el("h3", { text: "Evidence" }));
    d.evidence_sentences.forEach(function (s) {
      box.appendChild(el("blockquote", {}, [document.createTextNode(s.text + " "),
        el("small", { text: "(" + page(s.page) + ", " + s.stance + ")" })]));
    });

    var stance = options(el("select", { id: "stance-select", "aria-label": "Stance" }), config.stances, null, d.stance);
    var holder = el("input", { id: "holder-input", list: "holders", value: d.holder, "aria-label": "Holder", size: "34" });
    var note = el("input", { id: "note", placeholder: "note (optional)", "aria-label": "Note", size: "30" });
    var confirm = el("button", { type: "button", cls: "act primary", id: "confirm", text: "Confirm (c)" });
    var reject = el("button", { type: "button", cls: "act danger", id: "reject", text: "Not a stance on this target (r)" });
    var changeStance = el("button", { type: "button", cls: "act", id: "change-stance", text: "Change stance" });
    var changeHolder = el("button", { type: "button", cls: "act", id: "change-holder", text: "Change / merge holder" });
    var next = el("button", { type: "button", cls: "act", id: "next", text: "Next (n)" });
    confirm.addEventListener("click", function () { decide("confirm"); });
    reject.addEventListener("click", function () { decide("reject"); });
    changeStance.addEventListener("click", function () { decide("stance", stance.value); });
    changeHolder.addEventListener("click", function () { decide("holder", holder.value); });
    next.addEventListener("click", function () { move(1); });
    box.appendChild(el("div", { cls: "actions" }, [confirm, reject,
      el("fieldset", {}, [stance, changeStance]), el("fieldset", {}, [holder, changeHolder]), note, next]));

    box.appendChild(el("h3", { text: "In context" }));
    box.appendChild(el("p", { cls: "note", text: "Select a sentence to add a position the machine missed." }));
    box.appendChild(sentenceList(d.context));
    var whole = el("button", { type: "button", cls: "act", id: "whole-document", text: "Show the whole document" });
    whole.addEventListener("click", function () {
      api("/api/document/" + encodeURIComponent(d.doc_id)).then(function (data) {
        document.getElementById("context").replaceWith(sentenceList(data.sentences));
      }).catch(function (e) { say(e.message, true); });
    });
    box.appendChild(whole);
    box.appendChild(el("div", { id: "add-slot" }));
    renderAddForm();
  }

  function renderAddForm() {
    var slot = document.getElementById("add-slot");
    if (!slot) { return; }
    slot.textContent = "";
    var s = state.selected;
    if (!s) { return; }
    var holder = el("input", { id: "add-holder", list: "holders", value: state.author, "aria-label": "Holder", size: "34" });
    var target = options(el("select", { id: "add-target", "aria-label": "Target" }),
                         config.targets.map(function (t) { return t.id; }), targetLabels, null);
    var stance = options(el("select", { id: "add-stance", "aria-label": "Stance" }), config.stances, null, "support");
    var add = el("button", { type: "button", cls: "act primary", id: "add", text: "Add position" });
    add.addEventListener("click", function () {
      send({ action: "add", sentence_id: s.sentence_id, holder: holder.value, target: target.value,
             stance: stance.value, note: (document.getElementById("note") || {}).value || "" });
    });
    slot.appendChild(el("div", { id: "add-form" }, [
      el("h3", { text: "Add a missed position" }), el("blockquote", { id: "add-sentence", text: s.text }),
      holder, document.createTextNode(" on "), target, document.createTextNode(" "), stance,
      document.createTextNode(" "), add]));
  }

  function select(sentence) {
    state.selected = sentence;
    document.querySelectorAll("#context li").forEach(function (li) {
      li.classList.toggle("selected", li.getAttribute("data-sentence-id") === sentence.sentence_id);
    });
    renderAddForm();
  }

  function show(i) {
    if (!state.items.length) { state.detail = null; renderItem(); renderQueue(); return Promise.resolve(); }
    state.index = Math.max(0, Math.min(i, state.items.length - 1));
    state.selected = null;
    renderQueue();
    return api("/api/item/" + encodeURIComponent(state.items[state.index].id)).then(function (d) {
      state.detail = d;
      renderItem();
      document.documentElement.setAttribute("data-item", d.id);
    }).catch(function (e) { say(e.message, true); });
  }

  function move(step) { return show(state.index + step); }

  function upsert(item) {
    for (var i = 0; i < state.items.length; i++) {
      if (state.items[i].id === item.id) { state.items[i] = item; return i; }
    }
    state.items.push(item);
    return state.items.length - 1;
  }

  function send(payload) {
    return api("/api/decide", payload).then(function (result) {
      var where = result.item ? upsert(result.item) : state.index;
      say("Saved: " + payload.action + (result.item ? " — " + result.item.holder + " on " +
          (targetLabels[result.item.target] || result.item.target) + " is now " + result.item.review : "") +
          (result.message ? " (" + result.message + ")" : ""));
      var next = payload.action === "confirm" ? state.index + 1 : where;
      return show(next).then(function () {
        // Counted once the page shows the decision's effect (what tests wait for).
        var root = document.documentElement;
        root.setAttribute("data-decisions", String(Number(root.getAttribute("data-decisions") || 0) + 1));
      });
    }).catch(function (e) { say("Not saved: " + e.message, true); });
  }

  function decide(action, value) {
    if (!state.detail) { return Promise.resolve(); }
    var note = document.getElementById("note");
    return send({ action: action, id: state.detail.id, value: value || "", note: note ? note.value : "" });
  }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(tag) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (key === "c") { decide("confirm"); }
    else if (key === "n" || key === "j") { move(1); }
    else if (key === "p" || key === "k") { move(-1); }
    else if (key === "r") { decide("reject"); }
    else if (key === "h") { var h = document.getElementById("holder-input"); if (h) { h.focus(); h.select(); } }
    else if (/^[1-4]$/.test(key)) { decide("stance", config.stances[Number(key) - 1]); }
    else { return; }
    event.preventDefault();
  });

  api("/api/queue").then(function (data) {
    state.items = data.items;
    var list = document.getElementById("holders");
    data.holders.forEach(function (name) { list.appendChild(el("option", { value: name })); });
    return show(0);
  }).then(function () {
    document.documentElement.setAttribute("data-ready", "1");
  }).catch(function (e) { say(e.message, true); });
}());
