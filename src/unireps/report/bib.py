"""The works the post cites, as BibTeX.  Only entries the post cites are written to its .bib file."""

from __future__ import annotations

ENTRIES: dict[str, str] = {
    "kornblith2019": """@inproceedings{kornblith2019,
  title = {Similarity of Neural Network Representations Revisited},
  author = {Kornblith, Simon and Norouzi, Mohammad and Lee, Honglak and Hinton, Geoffrey},
  booktitle = {Proceedings of the 36th International Conference on Machine Learning (ICML)},
  year = {2019}
}""",
    "gretton2005": """@inproceedings{gretton2005,
  title = {Measuring Statistical Dependence with {Hilbert-Schmidt} Norms},
  author = {Gretton, Arthur and Bousquet, Olivier and Smola, Alex and Sch{\\"o}lkopf, Bernhard},
  booktitle = {Algorithmic Learning Theory (ALT)},
  year = {2005}
}""",
    "song2012": """@article{song2012,
  title = {Feature Selection via Dependence Maximization},
  author = {Song, Le and Smola, Alex and Gretton, Arthur and Bedo, Justin and Borgwardt, Karsten},
  journal = {Journal of Machine Learning Research},
  volume = {13},
  year = {2012}
}""",
    "kriegeskorte2008rsa": """@article{kriegeskorte2008rsa,
  title = {Representational Similarity Analysis -- Connecting the Branches of Systems Neuroscience},
  author = {Kriegeskorte, Nikolaus and Mur, Marieke and Bandettini, Peter},
  journal = {Frontiers in Systems Neuroscience},
  volume = {2},
  year = {2008}
}""",
    "kriegeskorte2008neuron": """@article{kriegeskorte2008neuron,
  title = {Matching Categorical Object Representations in Inferior Temporal Cortex of Man and Monkey},
  author = {Kriegeskorte, Nikolaus and Mur, Marieke and Ruff, Douglas A. and Kiani, Roozbeh and Bodurka, Jerzy
            and Esteky, Hossein and Tanaka, Keiji and Bandettini, Peter A.},
  journal = {Neuron},
  volume = {60},
  number = {6},
  pages = {1126--1141},
  year = {2008}
}""",
    "nili2014": """@article{nili2014,
  title = {A Toolbox for Representational Similarity Analysis},
  author = {Nili, Hamed and Wingfield, Cai and Walther, Alexander and Su, Li and Marslen-Wilson, William
            and Kriegeskorte, Nikolaus},
  journal = {PLoS Computational Biology},
  volume = {10},
  number = {4},
  year = {2014}
}""",
    "huh2024": """@inproceedings{huh2024,
  title = {The Platonic Representation Hypothesis},
  author = {Huh, Minyoung and Cheung, Brian and Wang, Tongzhou and Isola, Phillip},
  booktitle = {Proceedings of the 41st International Conference on Machine Learning (ICML)},
  year = {2024}
}""",
    "raghu2017": """@inproceedings{raghu2017,
  title = {{SVCCA}: Singular Vector Canonical Correlation Analysis for Deep Learning Dynamics and Interpretability},
  author = {Raghu, Maithra and Gilmer, Justin and Yosinski, Jason and Sohl-Dickstein, Jascha},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2017}
}""",
    "morcos2018": """@inproceedings{morcos2018,
  title = {Insights on Representational Similarity in Neural Networks with Canonical Correlation},
  author = {Morcos, Ari S. and Raghu, Maithra and Bengio, Samy},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2018}
}""",
    "williams2021": """@inproceedings{williams2021,
  title = {Generalized Shape Metrics on Neural Representations},
  author = {Williams, Alex H. and Kunz, Erin and Kornblith, Simon and Linderman, Scott W.},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2021}
}""",
    "li2015": """@inproceedings{li2015,
  title = {Convergent Learning: Do Different Neural Networks Learn the Same Representations?},
  author = {Li, Yixuan and Yosinski, Jason and Clune, Jeff and Lipson, Hod and Hopcroft, John},
  booktitle = {Proceedings of the 1st Workshop on Feature Extraction: Modern Questions and Challenges at NIPS 2015},
  year = {2015}
}""",
    "bansal2021": """@inproceedings{bansal2021,
  title = {Revisiting Model Stitching to Compare Neural Representations},
  author = {Bansal, Yamini and Nakkiran, Preetum and Barak, Boaz},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2021}
}""",
    "csiszarik2021": """@inproceedings{csiszarik2021,
  title = {Similarity and Matching of Neural Network Representations},
  author = {Csisz{\\'a}rik, Adri{\\'a}n and K{\\H{o}}r{\\"o}si-Szab{\\'o}, P{\\'e}ter and Matszangosz, {\\'A}kos
            and Papp, Gergely and Varga, D{\\'a}niel},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2021}
}""",
    "lenc2015": """@inproceedings{lenc2015,
  title = {Understanding Image Representations by Measuring Their Equivariance and Equivalence},
  author = {Lenc, Karel and Vedaldi, Andrea},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2015}
}""",
    "ainsworth2023": """@inproceedings{ainsworth2023,
  title = {Git Re-Basin: Merging Models modulo Permutation Symmetries},
  author = {Ainsworth, Samuel K. and Hayase, Jonathan and Srinivasa, Siddhartha},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2023}
}""",
    "entezari2022": """@inproceedings{entezari2022,
  title = {The Role of Permutation Invariance in Linear Mode Connectivity of Neural Networks},
  author = {Entezari, Rahim and Sedghi, Hanie and Saukh, Olga and Neyshabur, Behnam},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2022}
}""",
    "frankle2020": """@inproceedings{frankle2020,
  title = {Linear Mode Connectivity and the Lottery Ticket Hypothesis},
  author = {Frankle, Jonathan and Dziugaite, Gintare Karolina and Roy, Daniel M. and Carbin, Michael},
  booktitle = {Proceedings of the 37th International Conference on Machine Learning (ICML)},
  year = {2020}
}""",
    "wortsman2022": """@inproceedings{wortsman2022,
  title = {Model Soups: Averaging Weights of Multiple Fine-Tuned Models Improves Accuracy without Increasing
           Inference Time},
  author = {Wortsman, Mitchell and Ilharco, Gabriel and Gadre, Samir Yitzhak and Roelofs, Rebecca and
            Gontijo-Lopes, Raphael and Morcos, Ari S. and Namkoong, Hongseok and Farhadi, Ali and Carmon, Yair and
            Kornblith, Simon and Schmidt, Ludwig},
  booktitle = {Proceedings of the 39th International Conference on Machine Learning (ICML)},
  year = {2022}
}""",
    "ilharco2023": """@inproceedings{ilharco2023,
  title = {Editing Models with Task Arithmetic},
  author = {Ilharco, Gabriel and Ribeiro, Marco Tulio and Wortsman, Mitchell and Gururangan, Suchin and
            Schmidt, Ludwig and Hajishirzi, Hannaneh and Farhadi, Ali},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2023}
}""",
    "yadav2023": """@inproceedings{yadav2023,
  title = {{TIES}-Merging: Resolving Interference When Merging Models},
  author = {Yadav, Prateek and Tam, Derek and Choshen, Leshem and Raffel, Colin and Bansal, Mohit},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2023}
}""",
    "matena2022": """@inproceedings{matena2022,
  title = {Merging Models with {Fisher}-Weighted Averaging},
  author = {Matena, Michael and Raffel, Colin},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2022}
}""",
    "moschella2023": """@inproceedings{moschella2023,
  title = {Relative Representations Enable Zero-Shot Latent Space Communication},
  author = {Moschella, Luca and Maiorca, Valentino and Fumero, Marco and Norelli, Antonio and Locatello, Francesco
            and Rodol{\\`a}, Emanuele},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2023}
}""",
    "radford2021": """@inproceedings{radford2021,
  title = {Learning Transferable Visual Models from Natural Language Supervision},
  author = {Radford, Alec and Kim, Jong Wook and Hallacy, Chris and Ramesh, Aditya and Goh, Gabriel and
            Agarwal, Sandhini and Sastry, Girish and Askell, Amanda and Mishkin, Pamela and Clark, Jack and
            Krueger, Gretchen and Sutskever, Ilya},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  year = {2021}
}""",
    "jia2021": """@inproceedings{jia2021,
  title = {Scaling Up Visual and Vision-Language Representation Learning With Noisy Text Supervision},
  author = {Jia, Chao and Yang, Yinfei and Xia, Ye and Chen, Yi-Ting and Parekh, Zarana and Pham, Hieu and Le, Quoc
            and Sung, Yun-Hsuan and Li, Zhen and Duerig, Tom},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  year = {2021}
}""",
    "li2022blip": """@inproceedings{li2022blip,
  title = {{BLIP}: Bootstrapping Language-Image Pre-training for Unified Vision-Language Understanding and
           Generation},
  author = {Li, Junnan and Li, Dongxu and Xiong, Caiming and Hoi, Steven},
  booktitle = {Proceedings of the 39th International Conference on Machine Learning (ICML)},
  year = {2022}
}""",
    "singh2022": """@inproceedings{singh2022,
  title = {{FLAVA}: A Foundational Language and Vision Alignment Model},
  author = {Singh, Amanpreet and Hu, Ronghang and Goswami, Vedanuj and Couairon, Guillaume and Galuba, Wojciech and
            Rohrbach, Marcus and Kiela, Douwe},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2022}
}""",
    "zhai2023": """@inproceedings{zhai2023,
  title = {Sigmoid Loss for Language Image Pre-Training},
  author = {Zhai, Xiaohua and Mustafa, Basil and Kolesnikov, Alexander and Beyer, Lucas},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year = {2023}
}""",
    "nguyen2021": """@inproceedings{nguyen2021,
  title = {Do Wide and Deep Networks Learn the Same Things? Uncovering How Neural Network Representations Vary
           with Width and Depth},
  author = {Nguyen, Thao and Raghu, Maithra and Kornblith, Simon},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2021}
}""",
    "yamins2014": """@article{yamins2014,
  title = {Performance-Optimized Hierarchical Models Predict Neural Responses in Higher Visual Cortex},
  author = {Yamins, Daniel L. K. and Hong, Ha and Cadieu, Charles F. and Solomon, Ethan A. and Seibert, Darren and
            DiCarlo, James J.},
  journal = {Proceedings of the National Academy of Sciences},
  volume = {111},
  number = {23},
  pages = {8619--8624},
  year = {2014}
}""",
    "khaligh2014": """@article{khaligh2014,
  title = {Deep Supervised, but Not Unsupervised, Models May Explain {IT} Cortical Representation},
  author = {Khaligh-Razavi, Seyed-Mahdi and Kriegeskorte, Nikolaus},
  journal = {PLoS Computational Biology},
  volume = {10},
  number = {11},
  year = {2014}
}""",
    "tishby2015": """@inproceedings{tishby2015,
  title = {Deep Learning and the Information Bottleneck Principle},
  author = {Tishby, Naftali and Zaslavsky, Noga},
  booktitle = {IEEE Information Theory Workshop (ITW)},
  year = {2015}
}""",
    "wang2020": """@inproceedings{wang2020,
  title = {Understanding Contrastive Representation Learning through Alignment and Uniformity on the Hypersphere},
  author = {Wang, Tongzhou and Isola, Phillip},
  booktitle = {Proceedings of the 37th International Conference on Machine Learning (ICML)},
  year = {2020}
}""",
    "reimers2019": """@inproceedings{reimers2019,
  title = {Sentence-{BERT}: Sentence Embeddings using {Siamese} {BERT}-Networks},
  author = {Reimers, Nils and Gurevych, Iryna},
  booktitle = {Proceedings of EMNLP-IJCNLP},
  year = {2019}
}""",
    "klabunde2023": """@article{klabunde2023,
  title = {Similarity of Neural Network Models: A Survey of Functional and Representational Measures},
  author = {Klabunde, Max and Schumacher, Tobias and Strohmaier, Markus and Lemmerich, Florian},
  journal = {arXiv preprint arXiv:2305.06329},
  year = {2023}
}""",
    "sucholutsky2023": """@article{sucholutsky2023,
  title = {Getting Aligned on Representational Alignment},
  author = {Sucholutsky, Ilia and Muttenthaler, Lukas and Weller, Adrian and Peng, Andi and Bobu, Andreea and
            Kim, Been and Love, Bradley C. and others},
  journal = {arXiv preprint arXiv:2310.13018},
  year = {2023}
}""",
    "roeder2021": """@inproceedings{roeder2021,
  title = {On Linear Identifiability of Learned Representations},
  author = {Roeder, Geoffrey and Metz, Luke and Kingma, Durk P.},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  year = {2021}
}""",
    "zimmermann2021": """@inproceedings{zimmermann2021,
  title = {Contrastive Learning Inverts the Data Generating Process},
  author = {Zimmermann, Roland S. and Sharma, Yash and Schneider, Steffen and Bethge, Matthias and Brendel, Wieland},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  year = {2021}
}""",
    "barlow1961": """@incollection{barlow1961,
  title = {Possible Principles Underlying the Transformations of Sensory Messages},
  author = {Barlow, Horace B.},
  booktitle = {Sensory Communication},
  editor = {Rosenblith, Walter A.},
  publisher = {MIT Press},
  pages = {217--234},
  year = {1961}
}""",
    "hubel1962": """@article{hubel1962,
  title = {Receptive Fields, Binocular Interaction and Functional Architecture in the Cat's Visual Cortex},
  author = {Hubel, David H. and Wiesel, Torsten N.},
  journal = {The Journal of Physiology},
  volume = {160},
  number = {1},
  pages = {106--154},
  year = {1962}
}""",
    "felleman1991": """@article{felleman1991,
  title = {Distributed Hierarchical Processing in the Primate Cerebral Cortex},
  author = {Felleman, Daniel J. and Van Essen, David C.},
  journal = {Cerebral Cortex},
  volume = {1},
  number = {1},
  pages = {1--47},
  year = {1991}
}""",
    "freeman2013": """@article{freeman2013,
  title = {A Functional and Perceptual Signature of the Second Visual Area in Primates},
  author = {Freeman, Jeremy and Ziemba, Corey M. and Heeger, David J. and Simoncelli, Eero P. and Movshon, J. Anthony},
  journal = {Nature Neuroscience},
  volume = {16},
  pages = {974--981},
  year = {2013}
}""",
    "pasupathy2002": """@article{pasupathy2002,
  title = {Population Coding of Shape in Area {V4}},
  author = {Pasupathy, Anitha and Connor, Charles E.},
  journal = {Nature Neuroscience},
  volume = {5},
  pages = {1332--1338},
  year = {2002}
}""",
    "dicarlo2012": """@article{dicarlo2012,
  title = {How Does the Brain Solve Visual Object Recognition?},
  author = {DiCarlo, James J. and Zoccolan, Davide and Rust, Nicole C.},
  journal = {Neuron},
  volume = {73},
  number = {3},
  pages = {415--434},
  year = {2012}
}""",
    "riesenhuber1999": """@article{riesenhuber1999,
  title = {Hierarchical Models of Object Recognition in Cortex},
  author = {Riesenhuber, Maximilian and Poggio, Tomaso},
  journal = {Nature Neuroscience},
  volume = {2},
  number = {11},
  pages = {1019--1025},
  year = {1999}
}""",
    "guclu2015": """@article{guclu2015,
  title = {Deep Neural Networks Reveal a Gradient in the Complexity of Neural Representations across the Ventral
           Stream},
  author = {Güçlü, Umut and van Gerven, Marcel A. J.},
  journal = {Journal of Neuroscience},
  volume = {35},
  number = {27},
  pages = {10005--10014},
  year = {2015}
}""",
    "cadieu2014": """@article{cadieu2014,
  title = {Deep Neural Networks Rival the Representation of Primate {IT} Cortex for Core Visual Object Recognition},
  author = {Cadieu, Charles F. and Hong, Ha and Yamins, Daniel L. K. and Pinto, Nicolas and Ardila, Diego and
            Solomon, Ethan A. and Majaj, Najib J. and DiCarlo, James J.},
  journal = {PLoS Computational Biology},
  volume = {10},
  number = {12},
  pages = {e1003963},
  year = {2014}
}""",
    "olshausen1996": """@article{olshausen1996,
  title = {Emergence of Simple-Cell Receptive Field Properties by Learning a Sparse Code for Natural Images},
  author = {Olshausen, Bruno A. and Field, David J.},
  journal = {Nature},
  volume = {381},
  pages = {607--609},
  year = {1996}
}""",
    "simoncelli2001": """@article{simoncelli2001,
  title = {Natural Image Statistics and Neural Representation},
  author = {Simoncelli, Eero P. and Olshausen, Bruno A.},
  journal = {Annual Review of Neuroscience},
  volume = {24},
  pages = {1193--1216},
  year = {2001}
}""",
    "schrimpf2018": """@article{schrimpf2018,
  title = {Brain-Score: Which Artificial Neural Network for Object Recognition is most Brain-Like?},
  author = {Schrimpf, Martin and Kubilius, Jonas and Hong, Ha and Majaj, Najib J. and Rajalingham, Rishi and
            Issa, Elias B. and Kar, Kohitij and Bashivan, Pouya and Prescott-Roy, Jonathan and Geiger, Franziska and
            Schmidt, Kailyn and Yamins, Daniel L. K. and DiCarlo, James J.},
  journal = {bioRxiv},
  pages = {407007},
  year = {2018}
}""",
    "tan2019": """@inproceedings{tan2019,
  title = {{EfficientNet}: Rethinking Model Scaling for Convolutional Neural Networks},
  author = {Tan, Mingxing and Le, Quoc V.},
  booktitle = {Proceedings of the 36th International Conference on Machine Learning (ICML)},
  year = {2019}
}""",
    "mcmahan2017": """@inproceedings{mcmahan2017,
  title = {Communication-Efficient Learning of Deep Networks from Decentralized Data},
  author = {McMahan, H. Brendan and Moore, Eider and Ramage, Daniel and Hampson, Seth and Agüera y Arcas, Blaise},
  booktitle = {Proceedings of the 20th International Conference on Artificial Intelligence and Statistics (AISTATS)},
  year = {2017}
}""",
    "li2020fedprox": """@inproceedings{li2020fedprox,
  title = {Federated Optimization in Heterogeneous Networks},
  author = {Li, Tian and Sahu, Anit Kumar and Zaheer, Manzil and Sanjabi, Maziar and Talwalkar, Ameet
            and Smith, Virginia},
  booktitle = {Proceedings of Machine Learning and Systems (MLSys)},
  year = {2020}
}""",
    "wang2020fedma": """@inproceedings{wang2020fedma,
  title = {Federated Learning with Matched Averaging},
  author = {Wang, Hongyi and Yurochkin, Mikhail and Sun, Yuekai and Papailiopoulos, Dimitris and Khazaeni, Yasaman},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2020}
}""",
    "hsu2019": """@article{hsu2019,
  title = {Measuring the Effects of Non-Identical Data Distribution for Federated Visual Classification},
  author = {Hsu, Tzu-Ming Harry and Qi, Hang and Brown, Matthew},
  journal = {arXiv preprint arXiv:1909.06335},
  year = {2019}
}""",
    "maiorca2023": """@inproceedings{maiorca2023,
  title = {Latent Space Translation via Semantic Alignment},
  author = {Maiorca, Valentino and Moschella, Luca and Norelli, Antonio and Fumero, Marco and Locatello, Francesco
            and Rodolà, Emanuele},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2023}
}""",
    "maniparambil2024": """@inproceedings{maniparambil2024,
  title = {Do Vision and Language Encoders Represent the World Similarly?},
  author = {Maniparambil, Mayug and Akshulakov, Raiymbek and Djilali, Yasser Abdelaziz Dahou and Seddik, Mohamed El
            Amine and Narayan, Sanath and Mangalam, Karttikeya and O'Connor, Noel E.},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2024}
}""",
}


def bibtex(keys) -> str:
    """The BibTeX of the given keys, in order; an unknown key is an error (every citation must resolve)."""
    missing = [k for k in keys if k not in ENTRIES]
    if missing:
        raise KeyError(f"no bibliography entry for {missing}; add them to unireps.report.bib.ENTRIES")
    return "\n\n".join(ENTRIES[k] for k in dict.fromkeys(keys)) + "\n"
