'use strict';
// core.admin.OrgFilter: choosing an organization in the sidebar's autocomplete loads the list
// filtered by it (?org=<id>), keeping the list's other parameters; clearing it removes the filter.
window.addEventListener('load', function() {
    const $ = window.django && window.django.jQuery;
    if (!$) {
        return;
    }
    $('select[data-org-filter]').on('change', function() {
        const params = new URLSearchParams(this.dataset.orgFilter);
        if (this.value) {
            params.set('org', this.value);
        } else {
            params.delete('org');
        }
        window.location.search = params.toString();
    });
});
