// The journey editor: says at once when the definition is not JSON, and lays it out on request.
// The server checks everything else when it is saved. Registered with Alpine.data: the
// console's CSP build of Alpine runs no expressions written in the page.
document.addEventListener("alpine:init", function () {
  "use strict";

  window.Alpine.data("journeyEditor", function () {
    return {
      problem: "",

      parsed: function () {
        var text = this.$refs.definition.value;
        try {
          var value = JSON.parse(text);
          this.problem = "";
          return value;
        } catch (error) {
          this.problem = "Not valid JSON yet: " + error.message;
          return undefined;
        }
      },

      check: function () { this.parsed(); },

      format: function () {
        var value = this.parsed();
        if (value !== undefined) { this.$refs.definition.value = JSON.stringify(value, null, 2); }
      }
    };
  });
});
