// Posting a billing run with a progress bar. The form posts in the background while the
// page reads the run's progress every second (invoices are committed batch by batch);
// when the post returns, the page reloads to show the run's report. Without JavaScript
// the form posts as before. A run someone else is posting is followed the same way.
(function () {
  "use strict";
  const box = document.getElementById("run-progress");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const form = document.getElementById("post-run");
  let timer = null;
  let following = false;

  async function poll() {
    try {
      const answer = await fetch(box.dataset.progressUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!answer.ok) return;
      const progress = await answer.json();
      bar.max = Math.max(progress.total, 1);
      bar.value = progress.posted;
      text.textContent = progress.posted + " of " + progress.total + " invoices posted";
      if (following && progress.status !== "posting") window.location.reload();
    } catch (error) {
      // the next poll tries again
    }
  }

  function start() {
    box.hidden = false;
    poll();
    timer = window.setInterval(poll, 1000);
  }

  if (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      following = false;
      form.querySelector("button").disabled = true;
      start();
      try {
        // "manual": the run page's flash message is kept for the reload that follows.
        await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          redirect: "manual",
        });
      } finally {
        window.clearInterval(timer);
        window.location.reload();
      }
    });
  }
  if (box.dataset.status === "posting") {
    following = true;
    start();
  }
})();
