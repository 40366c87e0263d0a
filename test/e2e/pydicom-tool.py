"""DICOM file helpers for the end-to-end tests, run with /usr/bin/python3 (pydicom 2.3).

Commands:
  read FILE...                  Print a JSON list with the decoded main attributes of each file.
  query OUT CHARSET LEVEL JSON  Write a C-FIND identifier file with values encoded in CHARSET.
  big OUT MEGABYTES UIDROOT     Write an uncompressed multi-frame MR file of about MEGABYTES.
  cp1251 FOLDER COUNT STUDYUID  Write COUNT CT files of one series whose Patient Name and Study Description
                                are windows-1251 bytes without Specific Character Set, as older equipment writes them.
"""
import json
import os
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

ATTRIBUTES = [
    "SpecificCharacterSet", "QueryRetrieveLevel", "PatientName", "PatientID", "StudyInstanceUID",
    "SeriesInstanceUID", "SOPInstanceUID", "StudyDate", "ModalitiesInStudy", "Modality",
    "NumberOfStudyRelatedInstances", "NumberOfSeriesRelatedInstances", "RetrieveAETitle",
    "PatientBirthDate", "PatientSex",
]


def text_of(value):
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(text_of(item) for item in value)
    if isinstance(value, pydicom.valuerep.PersonName):
        # Decoded groups joined with "=", like the corpus manifest.
        return str(value)
    return str(value)


def read(files):
    result = []
    for name in files:
        dataset = pydicom.dcmread(name, force=True)
        dataset.decode()
        entry = {"file": name}
        for keyword in ATTRIBUTES:
            if keyword in dataset:
                entry[keyword] = text_of(dataset.data_element(keyword).value)
        meta = getattr(dataset, "file_meta", None)
        entry["TransferSyntaxUID"] = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
        result.append(entry)
    print(json.dumps(result, ensure_ascii=False))


def query(out, charset, level, keys_json):
    keys = json.loads(keys_json)
    dataset = Dataset()
    if charset:
        dataset.SpecificCharacterSet = charset.split("\\")
    dataset.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(dataset, keyword, value)
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    dataset.is_little_endian = True
    dataset.is_implicit_VR = True
    # The value bytes must be in CHARSET, which pydicom uses when it writes.
    pydicom.dcmwrite(out, dataset, write_like_original=True)


def set_monochrome16(dataset, rows, columns):
    """Sets the Image Pixel attributes of unsigned 16-bit grayscale pixels."""
    dataset.Rows = rows
    dataset.Columns = columns
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 16
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0


def big(out, megabytes, uid_root):
    import numpy

    rows = columns = 512
    frame_bytes = rows * columns * 2
    frames = max(1, int(megabytes) * 1024 * 1024 // frame_bytes)
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    dataset.file_meta.MediaStorageSOPInstanceUID = uid_root + ".3"
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    dataset.SOPInstanceUID = uid_root + ".3"
    dataset.StudyInstanceUID = uid_root + ".1"
    dataset.SeriesInstanceUID = uid_root + ".2"
    dataset.PatientName = "Large^Multiframe"
    dataset.PatientID = "LDR-LARGE"
    dataset.StudyDate = "20240101"
    dataset.Modality = "MR"
    set_monochrome16(dataset, rows, columns)
    dataset.NumberOfFrames = frames
    pixels = numpy.random.default_rng(7).integers(0, 65535, size=(frames, rows, columns), dtype=numpy.uint16)
    dataset.PixelData = pixels.tobytes()
    dataset.is_little_endian = True
    dataset.is_implicit_VR = False
    pydicom.dcmwrite(out, dataset, write_like_original=False)


def cp1251(folder, count, study_uid):
    os.makedirs(folder, exist_ok=True)
    series_uid = generate_uid()
    for number in range(1, int(count) + 1):
        dataset = Dataset()
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.MediaStorageSOPClassUID = CTImageStorage
        dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.SOPClassUID = CTImageStorage
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
        dataset.StudyInstanceUID = study_uid
        dataset.SeriesInstanceUID = series_uid
        dataset.Modality = "CT"
        dataset.PatientID = "CP1251-1"
        # pydicom writes bytes values as they are, and no Specific Character Set is added.
        dataset.add_new(0x00100010, "PN", "Смирнов^Олег".encode("cp1251"))
        dataset.add_new(0x00081030, "LO", "КТ грудной клетки".encode("cp1251"))
        dataset.StudyDate = "20240115"
        dataset.InstanceNumber = number
        set_monochrome16(dataset, 2, 2)
        dataset.PixelData = bytes(8)
        dataset.is_little_endian = True
        dataset.is_implicit_VR = False
        pydicom.dcmwrite(os.path.join(folder, f"ct{number:03d}.dcm"), dataset, write_like_original=False)


def main():
    command = sys.argv[1]
    if command == "read":
        read(sys.argv[2:])
    elif command == "query":
        query(*sys.argv[2:6])
    elif command == "big":
        big(*sys.argv[2:5])
    elif command == "cp1251":
        cp1251(*sys.argv[2:5])
    else:
        sys.exit(f"unknown command {command}: expected read, query, big or cp1251")


if __name__ == "__main__":
    main()
