"""What a work looks like: its visual features and texture descriptors, and the studies of them.

:mod:`~mediumnet.study.features`, :mod:`~mediumnet.study.descriptors` and
:mod:`~mediumnet.study.feature_table` measure (pure, shared with serving);
:mod:`~mediumnet.study.explore` (the feature study) and :mod:`~mediumnet.study.evaluate`
(evaluation reports) are tracked steps built on them.
"""
