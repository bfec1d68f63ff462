// The campaign builder: shows each chosen channel's content fields and the schedule's own fields
// as the form changes. The audience's size and the preview are fetched by HTMX. Served as a
// file: the console's Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var CHANNELS = ["email", "push", "sms", "in_app", "web_push"];

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("campaignBuilder", function () {
      return {
        email: false, push: false, sms: false, in_app: false, web_push: false,
        showAt: false, showCron: false, sendLabel: "Save and send now",

        init: function () { this.sync(); },

        sync: function () {
          var form = this.$root;
          var self = this;
          CHANNELS.forEach(function (channel) {
            var box = form.querySelector("input[name=channels][value=" + channel + "]");
            self[channel] = Boolean(box && box.checked);
          });
          var picked = form.querySelector("input[name=schedule_kind]:checked");
          var kind = picked ? picked.value : "now";
          this.showAt = kind === "at" || kind === "local_time";
          this.showCron = kind === "recurring";
          this.sendLabel = kind === "now" ? "Save and send now" : "Save and schedule";
        }
      };
    });
  });
})();
