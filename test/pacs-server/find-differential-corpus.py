"""Write the studies of the differential C-FIND test and print their UIDs.

Usage: find-differential-corpus.py OUT_DIR

Each series is one copy of pydicom's CT_small.dcm with the attributes below.
None removes an attribute and '' leaves it present but empty. Prints a JSON
object: study name -> {"study": StudyInstanceUID, "series": [SeriesInstanceUID, ...]}.
"""
import json
import os
import sys

import pydicom
from pydicom.uid import generate_uid

SOURCE = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
KEYWORDS = ["PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime", "AccessionNumber", "StudyDescription"]


def study(name, charset, patient_name, patient_id, birth_date, date, time, accession, description, modalities):
    values = [patient_name, patient_id, birth_date, date, time, accession, description]
    return {"name": name, "charset": charset, "values": dict(zip(KEYWORDS, values)), "modalities": modalities}


STUDIES = [
    study("s1", None, "Doe^John", "P1", "19700101", "20240115", "103045", "ACC001", "Head CT", ["CT"]),
    study("s2", None, "Doe^Johnny^^", "P2", "19800505", "20240116", "0900", "ACC002", "HEAD ct", ["CT", "PT"]),
    study("s3", None, "Roe^Jane^^^", "P3", "", "20231231", "2359", "", "", ["MR"]),
    study("s4", "ISO_IR 144", "Иванов^Иван", "P4", "19650315", "20240201", "12", "ACC-4", "Мозг", ["MR", "SR"]),
    study("s5", "ISO_IR 192", "Петров^Пётр", "P5", "19900101", "20240202", "120000.5", "acc005", "chest", ["CT", "MR"]),
    study("s6", "ISO_IR 192", "Yamada^Tarou=山田^太郎=やまだ^たろう", "P6", "19750707", "20240301", "083000", "ACC006", "Abdomen", ["OT"]),
    study("s7", None, None, "P7", None, None, None, None, None, ["CT"]),
    study("s8", None, "", "P8", "", "", "", "", "Head", ["US"]),
    study("s9", None, "doe^john", "P9", "19700101", "20240115", "1030", "ACC009", "head", ["CT"]),
    study("s10", None, "Doe^John", "P1", "19700101", "20240120", "235959.999", "acc001", "Follow-up MR", ["MR", "CT"]),
    study("s11", "ISO_IR 192", "Сидорова^Анна^^", "P11", "19851212", "20240115", "1030", "ACC011", "Knee", ["MR"]),
    study("s12", ["", "ISO 2022 IR 87"], "Yamada^Hanako=山田^花子", "P12", "19770101", "20240302", "0830", "ACC012", "Chest", ["CR"]),
    study("s13", "ISO_IR 100", "Müller^Jürgen", "P13", "19600101", "20240303", "0000", "ACC013", "Hüfte", ["DX"]),
    study("s14", None, "van der Berg^Anna Maria", "P14", "19990101", "20240304", "000000", "ACC 014", "Hand  left", ["CR"]),
]


def write_series(spec, study_uid, index, modality, out_dir):
    dataset = pydicom.dcmread(SOURCE)
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.Modality = modality
    dataset.SeriesNumber = index + 1
    dataset.StudyID = spec["name"]
    for keyword in ["OtherPatientIDs", "ReferringPhysicianName", "SeriesDate", "SeriesTime", "AcquisitionDate", "ContentDate"]:
        if keyword in dataset:
            del dataset[keyword]
    if spec["charset"]:
        dataset.SpecificCharacterSet = spec["charset"]
    elif "SpecificCharacterSet" in dataset:
        del dataset.SpecificCharacterSet
    for keyword, value in spec["values"].items():
        if value is None:
            if keyword in dataset:
                del dataset[keyword]
        else:
            setattr(dataset, keyword, value)
    dataset.save_as(os.path.join(out_dir, f"{spec['name']}-{index}.dcm"), write_like_original=False)
    return dataset.SeriesInstanceUID


def main(out_dir):
    manifest = {}
    for spec in STUDIES:
        study_uid = generate_uid()
        series = [write_series(spec, study_uid, index, modality, out_dir) for index, modality in enumerate(spec["modalities"])]
        manifest[spec["name"]] = {"study": study_uid, "series": series}
    print(json.dumps(manifest))


if __name__ == "__main__":
    main(sys.argv[1])
