"""Citations of the built-in metrics (kept apart so registering imports nothing heavy)."""

BLEU_CITATION = (
    "Papineni et al. 2002, BLEU: a Method for Automatic Evaluation of Machine Translation, ACL; "
    "Post 2018, A Call for Clarity in Reporting BLEU Scores, WMT (sacrebleu)"
)

ROUGE_CITATION = (
    "Lin 2004, ROUGE: A Package for Automatic Evaluation of Summaries, ACL Workshop "
    "(Google rouge-score implementation)"
)

METEOR_CITATION = (
    "Banerjee & Lavie 2005, METEOR: An Automatic Metric for MT Evaluation with Improved "
    "Correlation with Human Judgments, ACL Workshop (NLTK implementation, WordNet 3.0)"
)

CIDER_CITATION = (
    "Vedantam et al. 2015, CIDEr: Consensus-based Image Description Evaluation, CVPR "
    "(pycocoevalcap CIDEr-D)"
)

BERTSCORE_CITATION = (
    "Zhang et al. 2020, BERTScore: Evaluating Text Generation with BERT, ICLR (bert-score)"
)

ACCURACY_CITATION = (
    "Pedregosa et al. 2011, Scikit-learn: Machine Learning in Python, JMLR "
    "(accuracy_score, top_k_accuracy_score, balanced_accuracy_score)"
)

RETRIEVAL_CITATION = (
    "Song et al. 2024, Decoding Natural Images from EEG for Object Recognition (NICE), ICLR: "
    "200-way zero-shot retrieval top-1/top-5"
)

COSINE_CITATION = "Mishra et al. 2025, Thought2Text, Findings of NAACL (EEG-to-CLIP alignment)"

THOUGHT2TEXT_CITATION = (
    "Mishra et al. 2025, Thought2Text: Text Generation from EEG Signal using Large Language "
    "Models, Findings of NAACL (eval/metrics_based_evaluation_notebook.ipynb)"
)

COCO_CITATION = (
    "Chen et al. 2015, Microsoft COCO Captions: Data Collection and Evaluation Server, "
    "arXiv:1504.00325 (pycocoevalcap)"
)

ATTRIBUTES_CITATION = (
    "eegbench ground-truth attribute hit rates and oracle captions (docs/science.md); attribute "
    "words and captions declared by the dataset (EEGData.attributes, attribute_words, describe)"
)

PROBE_CITATION = (
    "Alain & Bengio 2017, Understanding intermediate layers using linear classifier probes, "
    "ICLR Workshop; Pedregosa et al. 2011, Scikit-learn, JMLR (LogisticRegression)"
)
