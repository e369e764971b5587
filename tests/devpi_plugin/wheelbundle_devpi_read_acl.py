"""A devpi-server plugin for wheelbundle's tests: an index's files readable only by its `acl_read`.

devpi-server guards release files with its `pkg_read` permission and leaves who holds it to
plugins (devpi-lockdown does it behind nginx). This one takes the readers from the index's own
`acl_read` setting, so the integration test meets an index that wants credentials, served by
devpi-server itself. It runs inside devpi-server's virtualenv, found through PYTHONPATH and the
entry point beside it.
"""

from devpi_server.config import hookimpl
from devpi_server.model import ACLList


@hookimpl
def devpiserver_indexconfig_defaults(index_type):
    """Every index gets an `acl_read` setting; anyone may read unless it says otherwise."""
    return {"acl_read": ACLList([":ANONYMOUS:"])}


@hookimpl
def devpiserver_stage_get_principals_for_pkg_read(ixconfig):
    """Who may download the index's files (root always may)."""
    return ixconfig.get("acl_read")
