// The demo shop's tracking: Segment's analytics.js 2.0, loaded from this server and
// configured through it (cdnURL), so every call lands in Loopline's tracking API.
(function () {
  "use strict";
  var writeKey = new URLSearchParams(window.location.search).get("writeKey") || "";
  var log = document.getElementById("log");
  var cart = [];

  function note(text) {
    var item = document.createElement("li");
    item.textContent = text;
    log.appendChild(item);
  }

  if (!writeKey) {
    note("Add ?writeKey=… (the workspace's write key) to this page's address to send events.");
    return;
  }
  var loaded = window.AnalyticsNext.AnalyticsBrowser.load({ writeKey: writeKey, cdnURL: window.location.origin });
  loaded.catch(function (error) { note("analytics.js could not start: " + error); });

  function sent(what) {
    return function (context) {
      var failed = context && context.failedDelivery && context.failedDelivery();
      note(failed ? what + " not delivered" : what + " sent");
    };
  }

  loaded.page("Shop", "Home").then(sent("page view"));

  document.getElementById("sign-in").addEventListener("submit", function (event) {
    event.preventDefault();
    var email = new FormData(event.target).get("email");
    loaded.identify(email, { email: email }).then(sent("identify " + email));
    document.getElementById("who").textContent = email;
  });

  document.querySelectorAll("article button.add").forEach(function (button) {
    button.addEventListener("click", function () {
      var card = button.closest("article");
      var product = { product_id: card.dataset.product, name: card.dataset.name,
                      price: Number(card.dataset.price), quantity: 1 };
      cart.push(product);
      loaded.track("Product Added", product).then(sent("Product Added: " + product.name));
    });
  });

  document.getElementById("checkout").addEventListener("click", function () {
    var total = cart.reduce(function (sum, product) { return sum + product.price; }, 0);
    loaded.track("Order Completed", { order_id: "demo-" + Date.now(), revenue: total, currency: "EUR",
                                      products: cart }).then(sent("Order Completed"));
    cart = [];
  });
}());
