import json, os, glob
from pathlib import Path
from tests.dag_runner import run_dag

DAG = Path("/work/main/tests/system/dags/eloqua_matrix.py")

def test_exp(airflow_db, eloqua_conn, monkeypatch):
    rows = [{"Email": f"p{i}@x.com", "FirstName": "F", "LastName": "L"} for i in range(5)]
    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": "import", "data": rows}))
    import time; t=time.time()
    r = run_dag(DAG, "eloqua_matrix")
    print("TIME", time.time()-t)
    print(r)
    for f in glob.glob(os.environ["AIRFLOW_HOME"] + "/logs/**", recursive=True):
        print(f)
    monkeypatch.setenv("ELOQUA_MATRIX_SPEC", json.dumps({"mode": "import", "data": rows, "fields": {"Email": "bad"}}))
    t=time.time()
    r = run_dag(DAG, "eloqua_matrix")
    print("TIME", time.time()-t)
    print(r)
    for f in glob.glob(os.environ["AIRFLOW_HOME"] + "/logs/**", recursive=True):
        print(f)
        if os.path.isfile(f): print(open(f).read()[-3000:])
