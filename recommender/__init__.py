"""The recommender core the TopKEvaluator, the NegativeSampler, the report
and the recommend command share: the item catalog and its genre rule
(catalog.py), raw examples as pandas (data.py), the unseen ranking pool
(pool.py), model scoring (scoring.py) and top-k and rating metrics
(metrics.py)."""
