// Progressive enhancement only: every page works without this file.
// A form that is being submitted cannot be submitted twice.
document.addEventListener('submit', function (e) {
  var form = e.target;
  if (form.dataset.sent) { e.preventDefault(); return; }
  form.dataset.sent = '1';
  setTimeout(function () { delete form.dataset.sent; }, 5000);
});
