"""The dashboard's queries: plain functions from a connection and parameters to a pandas DataFrame.

Pages call these and hold no SQL. The SQL text of every query is fixed; optional filters are chosen among
constant fragments, and every value a person can type travels as a bound ``$name`` parameter. Each module
serves one page: ``overview``, ``activity`` (the explorer), ``reports``, ``repository``, ``identity``, ``findings``;
``common`` holds the time range and the definitions the pages share (what counts as a pull, a refusal).
"""
