"""A curator's own collection: every work audited, unlabelled works classified, labels asked.

- :mod:`~mediumnet.collection.crossfit`: out-of-fold probabilities for every labelled work;
- :mod:`~mediumnet.collection.audit`: ``mediumnet audit``, the doubtful attributions ranked;
- :mod:`~mediumnet.collection.classify`: ``mediumnet classify``, a medium for unlabelled works;
- :mod:`~mediumnet.collection.suggest`: ``mediumnet suggest``, which works to label next;
- :mod:`~mediumnet.collection.page`: the table a curator opens, with thumbnails.
"""
