/* The ranking page (/ranking): an area's name in the AG Grid table links to its district
 * (or station) page with the page's shared state (city, period, year, profile, lang …).
 * The row carries the link (`href`, built by dashboard/pages/ranking.py); a plain click
 * navigates inside the app as dcc.Link does, a modified click (new tab …) is left to the
 * browser. A row without `href` (another district, for a district-scoped account) shows
 * the name only. */
(function () {
    var funcs = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};

    funcs.LtAreaLink = function (props) {
        var React = window.React;
        var data = props.data || {};
        var name = props.value == null ? '' : String(props.value);
        if (!data.href) {
            return React.createElement('span', {className: 'lt-rk-name'}, name);
        }
        return React.createElement('a', {
            href: data.href,
            className: 'lt-rk-link',
            onClick: function (event) {
                if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey
                        || event.altKey) {
                    return;
                }
                event.preventDefault();
                window.history.pushState({}, '', data.href);
                window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));
                window.scrollTo(0, 0);
            }
        }, name);
    };
}());
