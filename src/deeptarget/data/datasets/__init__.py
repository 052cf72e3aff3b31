"""The public datasets, one module each; importing this package registers them.

Convention: :data:`deeptarget.registry.DATASETS` holds dataset *instances* (subclasses of
:class:`~deeptarget.data.datasets.base.Dataset`), registered at the bottom of each module as
``DATASETS.register(MyDataset.name)(MyDataset())``. Look them up with
:func:`deeptarget.data.loading.registered_datasets`, which also accepts a registered class (and instantiates
it).

Registering has no other side effect: no file is read and nothing is downloaded at import.
"""

from deeptarget.data.datasets import amazon, catalogues, intents, movielens, tables

__all__ = ["amazon", "catalogues", "intents", "movielens", "tables"]
