/*
 * The autopay page's script (after card_form.js): save a card with Stripe.js for
 * off-session charges, then have our server enroll it, then show the autopay page again.
 *
 * card_form.js saves the card -> POST confirm {payment_method} -> the autopay page,
 * which now shows the card.
 */
(function () {
  "use strict";

  var form = document.getElementById("autopay-form");
  if (!form) {
    return;
  }
  window.MunibillCardForm.mount(form, {
    button: form.querySelector("#autopay-button"),
    next: function (stripe, method, texts) {
      return window.MunibillCardForm.postJson(
        form.dataset.confirmUrl,
        { payment_method: method },
        form.dataset.csrfToken,
        texts
      );
    },
    doneUrl: function (outcome) {
      return outcome.redirect || form.dataset.doneUrl;
    },
  });
})();
