"""Syncs, for every capability alike (imports, exports, sync actions); it imports no capability.

* :mod:`.waiting`: what a sync's status means, waiting for it, and the trigger's event contract.
* :mod:`.lifecycle`: start a sync, find one whose creation answer was lost, reattach on a retry.
* :mod:`.checkpoint`: the sync part of the task's checkpoint, with the capability's opaque payload.
* :mod:`.logs`: a finished sync's log, read once, shown as a table, counted by status code.
* :mod:`.ending`: the end of every sync task: the capability's report, ``on_warning``, delete the
  task's definition, forget the checkpoint, record the Asset.
"""
