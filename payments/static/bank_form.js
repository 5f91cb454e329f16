/*
 * The bank page's script (after Stripe.js and card_form.js): link a US bank account with
 * Stripe.js, show the mandate before anything is confirmed, and have our server confirm the
 * debit with the mandate the resident accepted. Every value comes from data- attributes (no
 * inline script is allowed); the account and routing numbers go to Stripe only.
 *
 * "Link a bank account": POST start -> {client_secret} -> stripe.collectBankAccountForPayment
 * (or collectBankAccountForSetup on the autopay page, data-purpose="setup"; Financial
 * Connections, or account numbers checked by microdeposits) -> the linked payment method. "I authorize" (the mandate's box ticked): POST confirm {payment_method,
 * mandate_accepted} -> the status page (pending while the bank processes the debit), or the
 * link where Stripe asks for the microdeposit.
 */
(function () {
  "use strict";

  var form = document.getElementById("bank-form");
  if (!form) {
    return;
  }
  var data = form.dataset;
  var link = form.querySelector("#bank-link");
  var confirmButton = form.querySelector("#bank-confirm");
  var accept = form.querySelector("#mandate-accept");
  var linked = form.querySelector("#bank-linked");
  var errorBox = form.querySelector("#bank-error");
  var progress = form.querySelector("#bank-progress");
  var texts = {
    unavailable: data.msgUnavailable,
    expired: data.msgExpired,
    busy: data.msgBusy,
    done: data.msgDone,
  };
  var method = null;
  var setup = data.purpose === "setup";

  if (typeof window.Stripe !== "function") {
    errorBox.textContent = texts.unavailable;
    return;
  }
  var stripe = window.Stripe(data.stripeKey, data.locale ? { locale: data.locale } : undefined);

  function refresh() {
    confirmButton.disabled = !method || !accept.checked;
  }

  function methodOf(intent) {
    var found = intent && intent.payment_method;
    return found && typeof found === "object" ? found : found ? { id: found } : null;
  }

  function show(error) {
    progress.textContent = "";
    errorBox.textContent = error;
  }

  link.addEventListener("click", async function () {
    link.disabled = true;
    errorBox.textContent = "";
    progress.textContent = texts.busy;
    var started = await window.MunibillCardForm.postJson(data.startUrl, {}, data.csrfToken, texts);
    if (started.error || !started.client_secret) {
      show(started.error || texts.expired);
      link.disabled = false;
      return;
    }
    var options = {
      clientSecret: started.client_secret,
      params: {
        payment_method_type: "us_bank_account",
        payment_method_data: { billing_details: { name: data.holder } },
      },
      expand: ["payment_method"],
    };
    // A standing mandate (autopay) saves the account on a SetupIntent; a payment debits it once.
    var collected = setup
      ? await stripe.collectBankAccountForSetup(options)
      : await stripe.collectBankAccountForPayment(options);
    var intent = setup ? collected.setupIntent : collected.paymentIntent;
    var found = collected.error ? null : methodOf(intent);
    link.disabled = false;
    if (!found) {
      show((collected.error && collected.error.message) || data.msgNotLinked);
      return;
    }
    method = found.id;
    var bank = found.us_bank_account || {};
    linked.textContent = [data.msgLinked, bank.bank_name, bank.last4 ? "••••" + bank.last4 : ""]
      .filter(Boolean)
      .join(" ");
    linked.hidden = false;
    progress.textContent = "";
    refresh();
  });

  accept.addEventListener("change", refresh);

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (!accept.checked) {
      show(data.msgAccept);
      return;
    }
    if (!method) {
      show(data.msgNotLinked);
      return;
    }
    confirmButton.disabled = true;
    errorBox.textContent = "";
    progress.textContent = texts.busy;
    var confirmed = await window.MunibillCardForm.postJson(
      data.confirmUrl,
      { payment_method: method, mandate_accepted: true },
      data.csrfToken,
      texts
    );
    if (confirmed.error) {
      show(confirmed.error);
      var restart = form.querySelector("#bank-restart");
      // A changed convenience fee: the new payment's page shows the new fee and total.
      if (confirmed.restart_url) {
        restart.querySelector("a").href = confirmed.restart_url;
      }
      restart.hidden = false;
      refresh();
      return;
    }
    if (confirmed.verification_url) {
      var verify = form.querySelector("#bank-verify");
      verify.querySelector("a").href = confirmed.verification_url;
      verify.hidden = false;
      progress.textContent = data.msgVerify;
      return;
    }
    progress.textContent = texts.done;
    window.location.assign(confirmed.redirect || confirmed.status_url || data.statusUrl);
  });

  link.disabled = false;
})();
