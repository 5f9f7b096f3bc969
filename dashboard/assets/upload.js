/* The upload page (/upload): dcc.Upload refuses a file larger than its max_size without a
 * word, so say it. The limit and the message are on the page (#upload-limit's data-bytes
 * and data-message); the clientside callback of dashboard/pages/upload.py calls this once
 * the upload component is rendered, and it listens from then on. */
(function () {
    var clientside = window.dash_clientside = window.dash_clientside || {};
    var ns = clientside.lantian_upload = clientside.lantian_upload || {};

    ns.watch_oversize = function (id) {
        if (!window.ltUploadWatch) {
            window.ltUploadWatch = true;
            var check = function (event, files) {
                var target = event.target;
                var zone = target && target.closest ? target.closest('#upload-file') : null;
                var info = document.getElementById('upload-limit');
                if (!zone || !info || !files || !files.length) { return; }
                var file = files[0];
                var message = '';
                if (file.size > Number(info.getAttribute('data-bytes'))) {
                    var n = file.size;
                    var size = n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB'
                        : (n / 1048576).toFixed(1) + ' MB';
                    message = info.getAttribute('data-message').replace('{name}', file.name)
                        .replace('{size}', size);
                }
                window.dash_clientside.set_props('upload-too-big', {children: message});
            };
            document.addEventListener('change', function (e) { check(e, e.target.files); }, true);
            document.addEventListener('drop', function (e) {
                check(e, e.dataTransfer ? e.dataTransfer.files : null); }, true);
        }
        return window.dash_clientside.no_update;
    };
}());
